// Launch helpers shared by the ops' .cu files.
//
// Kernels are launched with VFI_LAUNCH and declare dynamic shared memory with VFI_DYNAMIC_SHARED
// instead of the `<<<...>>>` and `extern __shared__` syntax, so that the same sources also compile
// as C++ against the CPU emulation of vfi/plugins/emulation (a test tool that defines both macros
// before this header is read; it is never part of the shipped libraries).
#pragma once

#include "vfi_common.cuh"

#if !defined(VFI_LAUNCH)
#define VFI_LAUNCH(kernel, grid, block, shared_bytes, stream) kernel<<<grid, block, shared_bytes, stream>>>
#endif
#if !defined(VFI_DYNAMIC_SHARED)
#define VFI_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

namespace vfi
{

// The grid of `block`-sized tiles over `batch` images of width x height pixels (z = image), so
// kernels find their pixel without dividing. False when it exceeds one launch's limits.
inline bool pixel_grid(int width, int height, int batch, dim3 block, dim3* grid)
{
    *grid = dim3((width + block.x - 1) / block.x, (height + block.y - 1) / block.y, batch);
    return grid->y <= 65535 && grid->z <= 65535;
}

} // namespace vfi
