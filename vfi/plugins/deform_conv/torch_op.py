"""`torch.ops.vfi.deform_conv` and the public, validating `deform_conv2d()`."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vfi.plugins.args import check_dims, check_same_device_and_dtype, check_tensor
from vfi.plugins.autograd import register_reference_autograd
from vfi.plugins.deform_conv.reference import deform_conv2d_reference, output_size
from vfi.plugins.deform_conv.spec import INPUT_LAYOUT, OFFSET_LAYOUT, WEIGHT_LAYOUT

_NAME = "deform_conv"


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
    """Deformable convolution v1 (README.md beside this file): `input` [N,C,H,W], `offset`
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
