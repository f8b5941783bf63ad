"""The cost volume of the SoftSplat flow estimator, in plain PyTorch (OPS.md "correlation").

Built from one zero padding and shifted slices, so it is differentiable and exports to standard
ONNX ops (Pad, Slice, Mul, ReduceMean, Concat) with dynamic height and width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def correlation(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 4) -> torch.Tensor:
    """Local correlation of `f1` and `f2` [N,C,H,W] -> [N,(2d+1)²,H,W] with d = max_displacement.

    out[n, k, y, x] = mean over c of f1[n,c,y,x] · f2[n,c,y+dy,x+dx], with f2 zero outside the
    frame and k = (dy+d)·(2d+1) + (dx+d): rows of displacements first, as upstream. No activation.
    """
    if f1.dim() != 4 or f1.shape != f2.shape:
        raise ValueError(
            f"correlation: f1 and f2 must be [N,C,H,W] of one shape; got {list(f1.shape)} and {list(f2.shape)}"
        )
    d = max_displacement
    span = 2 * d + 1
    padded = F.pad(f2, (d, d, d, d))

    def window(start: int) -> slice:
        # Both bounds are constants (the end counts from the far side), so exported graphs carry
        # no size arithmetic and torch.export adds no guards on the symbolic height and width.
        return slice(start, start - 2 * d or None)

    # All vertical shifts at once, [N, dy, C, H, W+2d]; then one product and mean per horizontal
    # shift: (2d+1)x the memory of f2 instead of (2d+1)², and 2(2d+1) slices instead of (2d+1)².
    rows = torch.stack([padded[:, :, window(dy)] for dy in range(span)], dim=1)
    first = f1.unsqueeze(1)
    columns = [(first * rows[..., window(dx)]).mean(2) for dx in range(span)]
    return torch.stack(columns, dim=2).flatten(1, 2)
