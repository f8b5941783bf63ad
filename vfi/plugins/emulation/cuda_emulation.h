// CPU emulation of the CUDA features the ops' kernels use, so that the `__global__` kernels in
// <op>_kernel.cu run, unchanged, as C++ on a CPU (README.md in this folder). A test tool: it is
// force-included (`-include cuda_emulation.h`) into the emulated build only and is never part of
// the shipped libraries.
//
// What it provides: the launch grid (threadIdx, blockIdx, blockDim, gridDim); one OS thread per
// CUDA thread of a block, with __syncthreads() a real barrier of the block's threads; dynamic
// shared memory per block (VFI_DYNAMIC_SHARED), allocated at exactly the launch's size so that
// AddressSanitizer sees an out-of-bounds access, and filled with NaN bytes so that reading a value
// no thread stored shows up in the output; atomicAdd on float; the runtime calls the launchers
// make (cudaMemsetAsync, cudaMallocAsync, cudaFreeAsync, cudaGetLastError, cudaGetErrorString),
// synchronous on the calling thread. __half and its conversions are cuda_fp16.h's own host code.
//
// What it does not model: warps (no shuffles or votes; the kernels use none), memory ordering
// weaker than a mutex's, timing, occupancy, register limits, and blocks running concurrently
// (blocks run one after another; the threads of a block run concurrently or, in the serial
// schedule, one at a time in descending order between barriers).
#pragma once

#define VFI_WITH_CUDA 1

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

#define __launch_bounds__(...)

namespace vfi_emulation
{

enum class Schedule : int
{
    kConcurrent = 0, // every thread of a block runs freely between barriers
    kSerial = 1,     // one thread at a time, highest index first, switching at barriers
};

void set_schedule(Schedule schedule);
// What the launch errors since the last call were about (cudaGetLastError returns only a code).
std::string take_error_message();

struct ThreadState
{
    uint3 thread_idx;
    uint3 block_idx;
    dim3 block_dim;
    dim3 grid_dim;
};

ThreadState& thread_state();
void sync_threads();
void* dynamic_shared_memory();

// Runs `body(thread)` for every thread of every block of the grid; `name` names the kernel in
// error reports. Errors (a bad configuration, a divergent __syncthreads) become the next
// cudaGetLastError().
class KernelBody
{
public:
    virtual ~KernelBody() = default;
    virtual void run() = 0;
};
void launch(char const* name, dim3 grid, dim3 block, size_t shared_bytes, KernelBody& body);

template <typename... Params>
class Launch
{
public:
    Launch(char const* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes)
        : mName(name)
        , mKernel(kernel)
        , mGrid(grid)
        , mBlock(block)
        , mSharedBytes(shared_bytes)
    {
    }

    template <typename... Args>
    void operator()(Args&&... args)
    {
        Body<Params...> body(mKernel, static_cast<Params>(std::forward<Args>(args))...);
        launch(mName, mGrid, mBlock, mSharedBytes, body);
    }

private:
    template <typename... Values>
    class Body : public KernelBody
    {
    public:
        Body(void (*kernel)(Params...), Values... values)
            : mKernel(kernel)
            , mValues(values...)
        {
        }
        // Every CUDA thread gets its own copy of the arguments, as on the device.
        void run() override { std::apply(mKernel, mValues); }

    private:
        void (*mKernel)(Params...);
        std::tuple<Values...> mValues;
    };

    char const* mName;
    void (*mKernel)(Params...);
    dim3 mGrid, mBlock;
    size_t mSharedBytes;
};

template <typename... Params>
Launch<Params...> make_launch(char const* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes)
{
    return Launch<Params...>(name, kernel, grid, block, shared_bytes);
}

} // namespace vfi_emulation

#define threadIdx (::vfi_emulation::thread_state().thread_idx)
#define blockIdx (::vfi_emulation::thread_state().block_idx)
#define blockDim (::vfi_emulation::thread_state().block_dim)
#define gridDim (::vfi_emulation::thread_state().grid_dim)

#define VFI_LAUNCH(kernel, grid, block, shared_bytes, stream)                                                          \
    (static_cast<void>(stream), ::vfi_emulation::make_launch(#kernel, kernel, grid, block, shared_bytes))
#define VFI_DYNAMIC_SHARED(type, name) type* const name = static_cast<type*>(::vfi_emulation::dynamic_shared_memory())

inline void __syncthreads()
{
    ::vfi_emulation::sync_threads();
}

float atomicAdd(float* address, float value);

// CUDA's device min/max on int.
inline int min(int a, int b)
{
    return a < b ? a : b;
}
inline int max(int a, int b)
{
    return a > b ? a : b;
}
