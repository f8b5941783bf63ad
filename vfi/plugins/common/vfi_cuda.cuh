// Launch helpers shared by the ops' .cu files.
#pragma once

#include "vfi_common.cuh"

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
