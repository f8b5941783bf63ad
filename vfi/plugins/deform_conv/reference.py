"""Pure-PyTorch deformable convolution v1 (OPS.md "deform_conv"): the ground truth for every other
layer. See README.md beside it for the contract."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vfi.plugins.args import compute_dtype

# Taps are sampled in groups whose gathered corners [N,C,4·taps·oH·oW] stay within this many
# elements (16 MiB in float32).
GROUP_ELEMENTS = 1 << 22


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """The convolution's output length along one axis (PyTorch's and ONNX's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _bilinear_zero(flat: torch.Tensor, height: int, width: int, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Samples of `flat` [N,C,H·W] at float positions `y`, `x` [N,P]: floor-based bilinear
    interpolation whose corners outside the frame contribute zero. Returns [N,C,P]."""
    n, c = flat.shape[:2]
    top, left = y.floor(), x.floor()
    below, right = y - top, x - left  # weights of the second row and column
    corners, weights = [], []
    for row, row_weight in ((top, 1 - below), (top + 1, below)):
        for col, col_weight in ((left, 1 - right), (left + 1, right)):
            inside = (row >= 0) & (row <= height - 1) & (col >= 0) & (col <= width - 1)
            # Integer before the product: a float32 flat index is inexact beyond 2^24 pixels.
            index = row.clamp(0, height - 1).long() * width + col.clamp(0, width - 1).long()
            corners.append(index)
            weights.append(row_weight * col_weight * inside)
    index = torch.cat(corners, 1)  # [N,4P]
    samples = flat.gather(2, index.unsqueeze(1).expand(-1, c, -1)).view(n, c, 4, -1)
    return (samples * torch.stack(weights, 1).unsqueeze(1)).sum(2)


def deform_conv2d_reference(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> torch.Tensor:
    """DCNv1 (README.md): `input` [N,C,H,W], `offset` [N,2·kH·kW,oH,oW] as (dy, dx) per
    tap with taps row-major, `weight` [O,C,kH,kW], `bias` [O] or None; stride, padding and
    dilation as (h, w) pairs. Returns [N,O,oH,oW].

    Taps are processed in groups: sample the input at the group's positions, then apply those
    taps' [O,C] weight matrices. Small inputs take all taps in one group (few ops, so gradcheck
    and opcheck tracing stay quick); feature maps take one tap at a time, so memory stays
    O((C + O)·oH·oW) whatever the kernel size. Arithmetic runs in float32 (float64 when any
    input is float64); the output has the input's dtype. Differentiable with respect to input,
    offset, weight and bias.
    """
    dtype = compute_dtype(input, offset, weight, bias)
    image, offset, weight = input.to(dtype), offset.to(dtype), weight.to(dtype)
    n, c, height, width = image.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    taps = kernel_h * kernel_w
    out_h = output_size(height, kernel_h, stride[0], padding[0], dilation[0])
    out_w = output_size(width, kernel_w, stride[1], padding[1], dilation[1])
    pixels = out_h * out_w
    offset = offset.reshape(n, taps, 2, pixels)
    weight = weight.reshape(out_channels, c, taps)

    device = image.device
    tap = torch.arange(taps, device=device)
    tap_y = (tap // kernel_w * dilation[0]).to(dtype).view(taps, 1)
    tap_x = (tap % kernel_w * dilation[1]).to(dtype).view(taps, 1)
    grid_y = torch.arange(out_h, dtype=dtype, device=device) * stride[0] - padding[0]
    grid_x = torch.arange(out_w, dtype=dtype, device=device) * stride[1] - padding[1]
    grid_y = grid_y.view(out_h, 1).expand(out_h, out_w).reshape(1, pixels)
    grid_x = grid_x.view(1, out_w).expand(out_h, out_w).reshape(1, pixels)
    flat = image.reshape(n, c, height * width)
    group = max(1, GROUP_ELEMENTS // max(1, n * c * 4 * pixels))

    out = image.new_zeros(n, out_channels, pixels)
    for first in range(0, taps, group):
        last = min(first + group, taps)
        y = grid_y + tap_y[first:last] + offset[:, first:last, 0]  # [N,G,oH·oW]
        x = grid_x + tap_x[first:last] + offset[:, first:last, 1]
        samples = _bilinear_zero(flat, height, width, y.flatten(1), x.flatten(1))
        out = out + torch.einsum("ocg,ncgp->nop", weight[:, :, first:last], samples.view(n, c, last - first, pixels))
    if bias is not None:
        out = out + bias.to(dtype).view(1, -1, 1)
    return out.view(n, out_channels, out_h, out_w).to(input.dtype)
