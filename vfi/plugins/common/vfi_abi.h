// The C ABI shared by the CPU harness (<op>_host.cpp) and the CUDA test library (<op>_kernel.cu),
// which Python calls through ctypes (vfi/plugins/native.py):
//
//   int vfi_<op>_<host|cuda>_<f32|f16>(void const* const* inputs, int64_t const* shapes, void* output,
//                                      <attributes in spec order>, [cudaStream_t stream,] char const** error)
//
// `inputs` holds one pointer per input of the op's spec, nullptr for an absent optional input;
// `shapes` holds four int64 NCHW sizes per input and then four for the output. Attributes are
// char const* (string), float (float) or int64_t (int). The status is one of Status; on failure
// *error points at a static message.
#pragma once

#include <cstdint>

#include "vfi_common.cuh"

namespace vfi
{

enum Status : int
{
    kOk = 0,
    kInvalidArgument = 1,
    kCudaError = 2,
    kOutOfMemory = 3,
};

inline Shape4 shape_at(int64_t const* shapes, int index)
{
    return Shape4{shapes[4 * index], shapes[4 * index + 1], shapes[4 * index + 2], shapes[4 * index + 3]};
}

inline int fail(char const** error, Status status, char const* message)
{
    *error = message;
    return status;
}

#if defined(VFI_WITH_CUDA)
inline int cuda_status(cudaError_t result, char const** error)
{
    return result == cudaSuccess ? kOk : fail(error, kCudaError, cudaGetErrorString(result));
}
#endif

} // namespace vfi
