// adacof on the GPU: one thread per output pixel. Each tap's geometry is computed once and applied
// to a group of up to four channels held in registers, so the three maps are read once per group
// (once in all for RGB). See README "Kernels".
#include "adacof_kernel.cuh"
#include "vfi_abi.h"
#include "vfi_cuda.cuh"

namespace vfi
{
namespace
{

dim3 const kBlock(32, 8); // a warp reads 32 consecutive pixels of every map
constexpr int kChannelGroup = 4;

template <typename T>
__global__ void __launch_bounds__(256) adacof_kernel(T const* __restrict__ input, T const* __restrict__ weight,
    T const* __restrict__ alpha, T const* __restrict__ beta, T* __restrict__ output, AdacofProblem p)
{
    int const n = blockIdx.z;
    int const x = blockIdx.x * blockDim.x + threadIdx.x;
    int const y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.width || y >= p.height)
        return;
    int const in_plane = p.in_height * p.in_width;
    int const plane = p.height * p.width;
    for (int first = 0; first < p.channels; first += kChannelGroup)
    {
        int const group = min(kChannelGroup, p.channels - first);
        T const* const planes = input + (n * p.channels + first) * in_plane;
        float sums[kChannelGroup] = {};
        for (int k = 0; k < p.size; ++k)
            for (int l = 0; l < p.size; ++l)
            {
                AdacofSample const sample = adacof_tap(weight, alpha, beta, p, n, k, l, y, x);
#pragma unroll
                for (int g = 0; g < kChannelGroup; ++g)
                    if (g < group)
                        sums[g] += adacof_apply(planes + g * in_plane, sample);
            }
        T* const out = output + (n * p.channels + first) * plane + y * p.width + x;
#pragma unroll
        for (int g = 0; g < kChannelGroup; ++g)
            if (g < group)
                out[g * plane] = from_float<T>(sums[g]);
    }
}

} // namespace

template <typename T>
cudaError_t launch_adacof(T const* input, Shape4 input_shape, T const* weight, Shape4 weight_shape, T const* alpha,
    Shape4 alpha_shape, T const* beta, Shape4 beta_shape, T* output, Shape4 output_shape, int64_t dilation,
    cudaStream_t stream)
{
    AdacofProblem p;
    dim3 grid;
    if (adacof_check(input_shape, weight_shape, alpha_shape, beta_shape, output_shape, dilation, &p))
        return cudaErrorInvalidValue;
    if (output_shape.empty())
        return cudaSuccess;
    if (input == nullptr || weight == nullptr || alpha == nullptr || beta == nullptr || output == nullptr
        || !pixel_grid(p.width, p.height, p.batch, kBlock, &grid))
        return cudaErrorInvalidValue;
    VFI_LAUNCH(adacof_kernel<T>, grid, kBlock, 0, stream)(input, weight, alpha, beta, output, p);
    return cudaGetLastError();
}

template cudaError_t launch_adacof<float>(float const*, Shape4, float const*, Shape4, float const*, Shape4,
    float const*, Shape4, float*, Shape4, int64_t, cudaStream_t);
template cudaError_t launch_adacof<half>(half const*, Shape4, half const*, Shape4, half const*, Shape4, half const*,
    Shape4, half*, Shape4, int64_t, cudaStream_t);

} // namespace vfi

namespace
{

template <typename T>
int adacof_cuda(void const* const* inputs, int64_t const* shapes, void* output, int64_t dilation, cudaStream_t stream,
    char const** error)
{
    using namespace vfi;
    AdacofProblem p;
    if (char const* message = adacof_check(shape_at(shapes, 0), shape_at(shapes, 1), shape_at(shapes, 2),
            shape_at(shapes, 3), shape_at(shapes, 4), dilation, &p))
        return fail(error, kInvalidArgument, message);
    return cuda_status(launch_adacof(static_cast<T const*>(inputs[0]), shape_at(shapes, 0),
                           static_cast<T const*>(inputs[1]), shape_at(shapes, 1), static_cast<T const*>(inputs[2]),
                           shape_at(shapes, 2), static_cast<T const*>(inputs[3]), shape_at(shapes, 3),
                           static_cast<T*>(output), shape_at(shapes, 4), dilation, stream),
        error);
}

} // namespace

// The C ABI of vfi_abi.h, for tests that run the kernels on torch CUDA tensors.
extern "C" int vfi_adacof_cuda_f32(void const* const* inputs, int64_t const* shapes, void* output, int64_t dilation,
    cudaStream_t stream, char const** error)
{
    return adacof_cuda<float>(inputs, shapes, output, dilation, stream, error);
}

extern "C" int vfi_adacof_cuda_f16(void const* const* inputs, int64_t const* shapes, void* output, int64_t dilation,
    cudaStream_t stream, char const** error)
{
    return adacof_cuda<vfi::half>(inputs, shapes, output, dilation, stream, error);
}
