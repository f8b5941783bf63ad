// softsplat on the GPU: one thread per source pixel splats into an fp32 accumulator with atomic
// adds, then one thread per output pixel normalises and writes the I/O type. See README "Kernels".
#include "softsplat_kernel.cuh"
#include "vfi_abi.h"
#include "vfi_cuda.cuh"

namespace vfi
{
namespace
{

// 32 threads along x: a warp reads 32 consecutive pixels of every plane.
dim3 const kBlock(32, 8);

// softsplat_scatter's addition policy on the GPU: sources landing on one target add atomically.
struct AtomicAdd
{
    __device__ __forceinline__ void operator()(float* address, float value) const { atomicAdd(address, value); }
};

template <typename T>
__global__ void __launch_bounds__(256) softsplat_splat_kernel(T const* __restrict__ input, T const* __restrict__ flow,
    T const* __restrict__ metric, float* __restrict__ accumulator, SoftsplatProblem p)
{
    int const x = blockIdx.x * blockDim.x + threadIdx.x;
    int const y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < p.width && y < p.height)
        softsplat_source(input, flow, metric, accumulator, p, blockIdx.z, y, x, AtomicAdd{});
}

template <typename T>
__global__ void __launch_bounds__(256) softsplat_normalise_kernel(
    float const* __restrict__ accumulator, T* __restrict__ output, SoftsplatProblem p)
{
    int const x = blockIdx.x * blockDim.x + threadIdx.x;
    int const y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < p.width && y < p.height)
        softsplat_normalise(accumulator, output, p, blockIdx.z, y * p.width + x);
}

} // namespace

template <typename T>
cudaError_t launch_softsplat(T const* input, Shape4 input_shape, T const* flow, Shape4 flow_shape, T const* metric,
    Shape4 metric_shape, T* output, Shape4 output_shape, SoftsplatMode mode, float eps, void* workspace,
    size_t workspace_bytes, cudaStream_t stream)
{
    SoftsplatProblem p;
    dim3 grid;
    if (softsplat_check(input_shape, flow_shape, metric != nullptr ? &metric_shape : nullptr, output_shape, mode, eps, &p))
        return cudaErrorInvalidValue;
    if (output_shape.empty())
        return cudaSuccess;
    if (input == nullptr || flow == nullptr || output == nullptr || workspace == nullptr
        || workspace_bytes < softsplat_workspace_bytes(p) || !pixel_grid(p.width, p.height, p.batch, kBlock, &grid))
        return cudaErrorInvalidValue;
    auto* accumulator = static_cast<float*>(workspace);
    cudaError_t const cleared = cudaMemsetAsync(accumulator, 0, softsplat_workspace_bytes(p), stream);
    if (cleared != cudaSuccess)
        return cleared;
    VFI_LAUNCH(softsplat_splat_kernel<T>, grid, kBlock, 0, stream)(input, flow, metric, accumulator, p);
    VFI_LAUNCH(softsplat_normalise_kernel<T>, grid, kBlock, 0, stream)(accumulator, output, p);
    return cudaGetLastError();
}

template cudaError_t launch_softsplat<float>(float const*, Shape4, float const*, Shape4, float const*, Shape4, float*,
    Shape4, SoftsplatMode, float, void*, size_t, cudaStream_t);
template cudaError_t launch_softsplat<half>(half const*, Shape4, half const*, Shape4, half const*, Shape4, half*,
    Shape4, SoftsplatMode, float, void*, size_t, cudaStream_t);

} // namespace vfi

namespace
{

template <typename T>
int softsplat_cuda(void const* const* inputs, int64_t const* shapes, void* output, char const* mode_name, float eps,
    cudaStream_t stream, char const** error)
{
    using namespace vfi;
    SoftsplatMode mode;
    if (char const* message = softsplat_parse_mode(mode_name, &mode))
        return fail(error, kInvalidArgument, message);
    Shape4 const input = shape_at(shapes, 0);
    Shape4 const metric = shape_at(shapes, 2);
    SoftsplatProblem p;
    if (char const* message = softsplat_check(input, shape_at(shapes, 1), inputs[2] != nullptr ? &metric : nullptr,
            shape_at(shapes, 3), mode, eps, &p))
        return fail(error, kInvalidArgument, message);
    size_t const bytes = softsplat_workspace_bytes(input);
    void* workspace = nullptr;
    cudaError_t result = cudaMallocAsync(&workspace, bytes, stream);
    if (result == cudaSuccess)
    {
        result = launch_softsplat(static_cast<T const*>(inputs[0]), input, static_cast<T const*>(inputs[1]),
            shape_at(shapes, 1), static_cast<T const*>(inputs[2]), shape_at(shapes, 2), static_cast<T*>(output),
            shape_at(shapes, 3), mode, eps, workspace, bytes, stream);
        cudaError_t const freed = cudaFreeAsync(workspace, stream);
        result = result != cudaSuccess ? result : freed;
    }
    return cuda_status(result, error);
}

} // namespace

// The C ABI of vfi_abi.h, for tests that run the kernels on torch CUDA tensors.
extern "C" int vfi_softsplat_cuda_f32(void const* const* inputs, int64_t const* shapes, void* output,
    char const* mode, float eps, cudaStream_t stream, char const** error)
{
    return softsplat_cuda<float>(inputs, shapes, output, mode, eps, stream, error);
}

extern "C" int vfi_softsplat_cuda_f16(void const* const* inputs, int64_t const* shapes, void* output,
    char const* mode, float eps, cudaStream_t stream, char const** error)
{
    return softsplat_cuda<vfi::half>(inputs, shapes, output, mode, eps, stream, error);
}
