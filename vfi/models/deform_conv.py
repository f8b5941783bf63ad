"""Deformable convolution v1 (OPS.md "deform_conv"), used by DSFN to warp features.

For every output pixel (oy, ox) and kernel tap (i, j), the input is sampled at

    y = oy·stride_h − pad_h + i·dilation_h + offset[n, 2·(i·kW + j),     oy, ox]
    x = ox·stride_w − pad_w + j·dilation_w + offset[n, 2·(i·kW + j) + 1, oy, ox]

with ordinary floor-based bilinear interpolation in which corners outside the frame count as
zero; the samples are then weighted by the convolution weights and summed, plus the bias. One
offset group (one (dy, dx) per tap, taps row-major, shared by all input channels), one
convolution group, no modulation mask.

Three layers, one contract:
- `deform_conv2d_reference`: readable, vectorised, differentiable PyTorch; the ground truth.
- `torch.ops.vfi.deform_conv`: a torch.library custom op (fake impl, autograd through the
  reference) that the public `deform_conv2d` validates and calls; models use only that.
- ONNX: the exporter translates the op to the standard `DeformConv` (opset 19+). Its offset
  tensor is laid out as [N, offset_group, kH, kW, 2 (h, w), oH, oW], exactly ours, so the
  offsets pass through unchanged. ONNX Runtime runs it on the CPU and TensorRT >= 10.1 imports
  it natively, so no `vfi::` node or function body is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from onnxscript import opset20 as op

from vfi.plugins.args import check_dims, check_same_device_and_dtype, check_tensor, compute_dtype
from vfi.plugins.autograd import register_reference_autograd

_NAME = "deform_conv"
INPUT_LAYOUT = "N,C,H,W"
OFFSET_LAYOUT = "N,2*kH*kW,oH,oW"
WEIGHT_LAYOUT = "O,C,kH,kW"
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
    """DCNv1 (module docstring): `input` [N,C,H,W], `offset` [N,2·kH·kW,oH,oW] as (dy, dx) per
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


@torch.library.custom_op("vfi::deform_conv", mutates_args=())
def deform_conv_op(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: list[int],
    padding: list[int],
    dilation: list[int],
) -> torch.Tensor:
    return deform_conv2d_reference(input, offset, weight, bias, stride, padding, dilation)


@deform_conv_op.register_fake
def _(input, offset, weight, bias, stride, padding, dilation):
    kernel_h, kernel_w = weight.shape[2:]
    out_h = output_size(input.shape[2], kernel_h, stride[0], padding[0], dilation[0])
    out_w = output_size(input.shape[3], kernel_w, stride[1], padding[1], dilation[1])
    return input.new_empty(input.shape[0], weight.shape[0], out_h, out_w)


register_reference_autograd(deform_conv_op, deform_conv2d_reference)


def onnx_translation(input, offset, weight, bias, stride, padding, dilation):
    """The exporter's translation of `torch.ops.vfi.deform_conv` to the standard `DeformConv`
    (its inputs are X, W, offset, B; pads are [begin_h, begin_w, end_h, end_w])."""
    return op.DeformConv(
        input,
        weight,
        offset,
        bias,
        strides=list(stride),
        pads=[padding[0], padding[1], padding[0], padding[1]],
        dilations=list(dilation),
    )


class DeformConv2d(torch.nn.Conv2d):
    """A convolution layer whose taps are displaced by per-pixel offsets: `forward(input,
    offset)` with `offset` [N,2·kH·kW,oH,oW]. Parameters, their initialisation and their
    state_dict keys are those of `torch.nn.Conv2d` (zero padding, one group)."""

    # No `groups` or `padding_mode`: the op has one group and zero padding only.
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=bias)

    def forward(self, input: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation)


def _pair(name: str, value, minimum: int) -> list[int]:
    pair = [value, value] if isinstance(value, int) else list(value) if isinstance(value, Sequence) else None
    # bool is an int subclass, but True is not a size.
    if pair is None or len(pair) != 2 or any(not isinstance(v, int) or isinstance(v, bool) or v < minimum for v in pair):
        raise ValueError(f"{_NAME}: {name} must be an integer >= {minimum} or a pair of them, got {value!r}")
    return pair


def deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> torch.Tensor:
    """Deformable convolution v1 (module docstring): `input` [N,C,H,W], `offset`
    [N,2·kH·kW,oH,oW] holding (dy, dx) per tap, taps row-major; `weight` [O,C,kH,kW]; `bias` [O]
    or None. Returns [N,O,oH,oW], oH and oW as for `torch.nn.functional.conv2d`."""
    stride, padding, dilation = _pair("stride", stride, 1), _pair("padding", padding, 0), _pair("dilation", dilation, 1)
    check_tensor(_NAME, "input", input, 4, INPUT_LAYOUT)
    check_tensor(_NAME, "offset", offset, 4, OFFSET_LAYOUT)
    check_tensor(_NAME, "weight", weight, 4, WEIGHT_LAYOUT)
    n, c = input.shape[:2]
    out_channels, _, kernel_h, kernel_w = weight.shape
    check_dims(_NAME, "weight", weight, {1: c}, WEIGHT_LAYOUT)
    out_h = output_size(input.shape[2], kernel_h, stride[0], padding[0], dilation[0])
    out_w = output_size(input.shape[3], kernel_w, stride[1], padding[1], dilation[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"{_NAME}: input {list(input.shape)} is too small for a {kernel_h}x{kernel_w} kernel "
            f"with padding {padding} and dilation {dilation}"
        )
    check_dims(_NAME, "offset", offset, {0: n, 1: 2 * kernel_h * kernel_w, 2: out_h, 3: out_w}, OFFSET_LAYOUT)
    if bias is not None:
        check_tensor(_NAME, "bias", bias, 1, "O")
        check_dims(_NAME, "bias", bias, {0: out_channels}, "O")
    check_same_device_and_dtype(_NAME, input=input, offset=offset, weight=weight, bias=bias)
    return deform_conv_op(input, offset, weight, bias, stride, padding, dilation)


__all__ = ["DeformConv2d", "deform_conv2d", "deform_conv2d_reference", "deform_conv_op", "onnx_translation"]
