"""Pure-PyTorch separable local convolution (OPS.md "sepconv"): the ground truth for every other layer."""

from __future__ import annotations

import torch

from vfi.plugins.args import compute_dtype


def sepconv_reference(input: torch.Tensor, vertical: torch.Tensor, horizontal: torch.Tensor) -> torch.Tensor:
    """Filter `input` [N,C,H+K-1,W+K-1] with the per-pixel kernel pair `vertical`, `horizontal`
    [N,K,H,W] into [N,C,H,W].

    Arithmetic runs in float32 (float64 when an input is float64); the output has the input's
    dtype. The vertical taps are summed one at a time so that at most one [N,C,H,W,K] window
    tensor exists: unfolding both axes at once would need N*C*H*W*K*K values (5 GB for a
    3x388x584 frame at K=51).
    """
    dtype = compute_dtype(input, vertical, horizontal)
    frame = input.to(dtype)
    vertical = vertical.to(dtype)
    horizontal = horizontal.to(dtype)
    _, taps, height, width = vertical.shape
    out = frame.new_zeros(frame.shape[0], frame.shape[1], height, width)
    for i in range(taps):
        # windows[n,c,y,x,j] = frame[n,c,y+i,x+j]: a view, no copy.
        windows = frame[:, :, i : i + height, :].unfold(3, taps, 1)
        filtered_row = torch.einsum("nchwj,njhw->nchw", windows, horizontal)
        out = out + filtered_row * vertical[:, i : i + 1]
    return out.to(input.dtype)
