// sepconv on the GPU. A block computes a 32 x 4 tile of output pixels: it stages its pixels'
// horizontal taps once and, per channel, the (4+K-1) x (32+K-1) input patch the tile reads, in
// shared memory, so each input value is read from global memory once per tile instead of up to
// K*K times. See README "Kernels".
#include "sepconv_kernel.cuh"
#include "vfi_abi.h"
#include "vfi_cuda.cuh"

namespace vfi
{
namespace
{

constexpr int kTileWidth = 32; // one warp per tile row: conflict-free shared-memory reads
constexpr int kTileHeight = 4;
constexpr int kTileThreads = kTileWidth * kTileHeight;
// The tiled kernel runs when its patch and taps fit in the shared memory every block may use
// without opting in: K <= 55.
constexpr size_t kTileSharedBytes = 48 * 1024;

size_t tile_shared_bytes(int taps)
{
    return sizeof(float) * ((kTileHeight + taps - 1) * (kTileWidth + taps - 1) + taps * kTileThreads);
}

template <typename T>
__global__ void __launch_bounds__(kTileThreads) sepconv_tiled_kernel(T const* __restrict__ input,
    T const* __restrict__ vertical, T const* __restrict__ horizontal, T* __restrict__ output, SepconvProblem p)
{
    VFI_DYNAMIC_SHARED(float, shared);
    int const patch_width = kTileWidth + p.taps - 1;
    int const patch_height = kTileHeight + p.taps - 1;
    float* const patch = shared;
    // Tap j of thread t at [j * kTileThreads + t]: a warp reads 32 consecutive words.
    float* const horizontal_taps = shared + patch_height * patch_width;

    int const n = blockIdx.z;
    int const tile_x = blockIdx.x * kTileWidth;
    int const tile_y = blockIdx.y * kTileHeight;
    int const x = tile_x + threadIdx.x;
    int const y = tile_y + threadIdx.y;
    int const thread = threadIdx.y * kTileWidth + threadIdx.x;
    bool const inside = x < p.width && y < p.height;
    int const plane = p.height * p.width;
    int const pixel = y * p.width + x;
    T const* const pixel_vertical = vertical + n * p.taps * plane + pixel;
    if (inside)
    {
        T const* const pixel_horizontal = horizontal + n * p.taps * plane + pixel;
        for (int j = 0; j < p.taps; ++j)
            horizontal_taps[j * kTileThreads + thread] = to_float(pixel_horizontal[j * plane]);
    }
    for (int c = 0; c < p.channels; ++c)
    {
        __syncthreads(); // every thread is done with the previous channel's patch
        T const* const source = input + ((n * p.channels + c) * p.in_height + tile_y) * p.in_width + tile_x;
        for (int row = threadIdx.y; row < patch_height; row += kTileHeight)
        {
            bool const row_inside = tile_y + row < p.in_height;
            for (int col = threadIdx.x; col < patch_width; col += kTileWidth)
                patch[row * patch_width + col]
                    = row_inside && tile_x + col < p.in_width ? to_float(source[row * p.in_width + col]) : 0.0f;
        }
        __syncthreads();
        if (inside)
            output[(n * p.channels + c) * plane + pixel]
                = from_float<T>(sepconv_pixel(patch + threadIdx.y * patch_width + threadIdx.x, patch_width,
                    pixel_vertical, plane, horizontal_taps + thread, kTileThreads, p.taps));
    }
}

// For kernels too large to tile: every tap read from global memory (through the caches).
template <typename T>
__global__ void __launch_bounds__(kTileThreads) sepconv_direct_kernel(T const* __restrict__ input,
    T const* __restrict__ vertical, T const* __restrict__ horizontal, T* __restrict__ output, SepconvProblem p)
{
    int const n = blockIdx.z;
    int const x = blockIdx.x * blockDim.x + threadIdx.x;
    int const y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.width || y >= p.height)
        return;
    int const plane = p.height * p.width;
    int const pixel = y * p.width + x;
    T const* const pixel_vertical = vertical + n * p.taps * plane + pixel;
    T const* const pixel_horizontal = horizontal + n * p.taps * plane + pixel;
    for (int c = 0; c < p.channels; ++c)
    {
        T const* const window = input + ((n * p.channels + c) * p.in_height + y) * p.in_width + x;
        output[(n * p.channels + c) * plane + pixel] = from_float<T>(
            sepconv_pixel(window, p.in_width, pixel_vertical, plane, pixel_horizontal, plane, p.taps));
    }
}

} // namespace

template <typename T>
cudaError_t launch_sepconv(T const* input, Shape4 input_shape, T const* vertical, Shape4 vertical_shape,
    T const* horizontal, Shape4 horizontal_shape, T* output, Shape4 output_shape, cudaStream_t stream)
{
    SepconvProblem p;
    dim3 const block(kTileWidth, kTileHeight);
    dim3 grid;
    if (sepconv_check(input_shape, vertical_shape, horizontal_shape, output_shape, &p))
        return cudaErrorInvalidValue;
    if (output_shape.empty())
        return cudaSuccess;
    if (input == nullptr || vertical == nullptr || horizontal == nullptr || output == nullptr
        || !pixel_grid(p.width, p.height, p.batch, block, &grid))
        return cudaErrorInvalidValue;
    size_t const shared_bytes = tile_shared_bytes(p.taps);
    if (shared_bytes <= kTileSharedBytes)
        VFI_LAUNCH(sepconv_tiled_kernel<T>, grid, block, shared_bytes, stream)(input, vertical, horizontal, output, p);
    else
        VFI_LAUNCH(sepconv_direct_kernel<T>, grid, block, 0, stream)(input, vertical, horizontal, output, p);
    return cudaGetLastError();
}

template cudaError_t launch_sepconv<float>(
    float const*, Shape4, float const*, Shape4, float const*, Shape4, float*, Shape4, cudaStream_t);
template cudaError_t launch_sepconv<half>(
    half const*, Shape4, half const*, Shape4, half const*, Shape4, half*, Shape4, cudaStream_t);

} // namespace vfi

namespace
{

template <typename T>
int sepconv_cuda(void const* const* inputs, int64_t const* shapes, void* output, cudaStream_t stream, char const** error)
{
    using namespace vfi;
    SepconvProblem p;
    if (char const* message
        = sepconv_check(shape_at(shapes, 0), shape_at(shapes, 1), shape_at(shapes, 2), shape_at(shapes, 3), &p))
        return fail(error, kInvalidArgument, message);
    return cuda_status(launch_sepconv(static_cast<T const*>(inputs[0]), shape_at(shapes, 0),
                           static_cast<T const*>(inputs[1]), shape_at(shapes, 1), static_cast<T const*>(inputs[2]),
                           shape_at(shapes, 2), static_cast<T*>(output), shape_at(shapes, 3), stream),
        error);
}

} // namespace

// The C ABI of vfi_abi.h, for tests that run the kernels on torch CUDA tensors.
extern "C" int vfi_sepconv_cuda_f32(
    void const* const* inputs, int64_t const* shapes, void* output, cudaStream_t stream, char const** error)
{
    return sepconv_cuda<float>(inputs, shapes, output, stream, error);
}

extern "C" int vfi_sepconv_cuda_f16(
    void const* const* inputs, int64_t const* shapes, void* output, cudaStream_t stream, char const** error)
{
    return sepconv_cuda<vfi::half>(inputs, shapes, output, stream, error);
}
