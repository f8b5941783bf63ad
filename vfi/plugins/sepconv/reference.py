"""Pure-PyTorch separable local convolution (OPS.md "sepconv"): the ground truth for every other layer."""

from __future__ import annotations

import torch

from vfi.plugins.args import compute_dtype


def sepconv_reference(input: torch.Tensor, vertical: torch.Tensor, horizontal: torch.Tensor) -> torch.Tensor:
    """Filter `input` [N,C,H+K-1,W+K-1] with the per-pixel kernel pair `vertical`, `horizontal`
    [N,K,H,W] into [N,C,H,W].

    Arithmetic runs in float32 (float64 when an input is float64); the output has the input's
    dtype. Every term is a product of frame-sized shifted slices accumulated in place, so the
    extra memory is two [N,C,H,W] buffers whatever K is; unfolding the K×K windows instead
    would need N·C·H·W·K·K values (5 GB for a 3×388×584 frame at K=51) and copying one K-wide
    window per vertical tap was 16x slower on the CPU.
    """
    dtype = compute_dtype(input, vertical, horizontal)
    frame = input.to(dtype)
    vertical = vertical.to(dtype)
    horizontal = horizontal.to(dtype)
    _, taps, height, width = vertical.shape
    out = frame.new_zeros(frame.shape[0], frame.shape[1], height, width)
    for i in range(taps):
        rows = frame[:, :, i : i + height]
        filtered_rows = torch.zeros_like(out)
        for j in range(taps):
            filtered_rows.addcmul_(rows[..., j : j + width], horizontal[:, j : j + 1])
        out.addcmul_(filtered_rows, vertical[:, i : i + 1])
    return out.to(input.dtype)
