// Shared by every op's kernel header: the host/device qualifiers, the half type, float
// conversions and the shape record the argument checks read. Compiles with nvcc and with a plain
// C++17 compiler, so the arithmetic in <op>_kernel.cuh is built for the CPU test harness too.
#pragma once

#include <cstdint>
#include <initializer_list>

// Translation units that call the CUDA launchers (the .cu files, the TensorRT plugins) must see
// CUDA's __half, the type the launchers are instantiated with; the CPU harness, built without the
// CUDA toolkit, uses the compiler's IEEE binary16 instead.
#if defined(__CUDACC__) && !defined(VFI_WITH_CUDA)
#define VFI_WITH_CUDA 1
#endif

#if defined(VFI_WITH_CUDA)
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#endif

#if defined(__CUDACC__)
#define VFI_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define VFI_HOST_DEVICE inline
#endif

namespace vfi
{

#if defined(VFI_WITH_CUDA)
using half = __half;
VFI_HOST_DEVICE float to_float(half value) { return __half2float(value); }
#else
// g++ and clang convert _Float16 <-> float with IEEE round-to-nearest-even, like __float2half_rn.
using half = _Float16;
VFI_HOST_DEVICE float to_float(half value) { return static_cast<float>(value); }
#endif

VFI_HOST_DEVICE float to_float(float value) { return value; }

template <typename T>
VFI_HOST_DEVICE T from_float(float value);

template <>
VFI_HOST_DEVICE float from_float<float>(float value)
{
    return value;
}

template <>
VFI_HOST_DEVICE half from_float<half>(float value)
{
#if defined(VFI_WITH_CUDA)
    return __float2half_rn(value);
#else
    return static_cast<half>(value);
#endif
}

// Kernels index with 32-bit ints (cheaper address arithmetic on the GPU); the checks refuse
// tensors with more elements than that.
constexpr int64_t kMaxElements = INT32_MAX;

// An NCHW tensor's dimensions, as every layer (C ABI, TensorRT descriptors) can state them.
struct Shape4
{
    int64_t n, c, h, w;

    bool nonnegative() const { return n >= 0 && c >= 0 && h >= 0 && w >= 0; }
    bool empty() const { return n == 0 || c == 0 || h == 0 || w == 0; }
    // Non-negative sizes whose non-zero ones multiply to fewer than 2^31: every product of sizes
    // the code forms (a plane, an offset) fits an int, empty tensors included.
    bool fits() const
    {
        if (!nonnegative())
            return false;
        int64_t product = 1;
        for (int64_t size : {n, c, h, w})
        {
            if (size == 0)
                continue;
            if (product > kMaxElements / size)
                return false;
            product *= size;
        }
        return true;
    }
    bool operator==(Shape4 const& other) const
    {
        return n == other.n && c == other.c && h == other.h && w == other.w;
    }
    bool operator!=(Shape4 const& other) const { return !(*this == other); }
};

} // namespace vfi
