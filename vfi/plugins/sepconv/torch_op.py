"""`torch.ops.vfi.sepconv` and the public, validating `sepconv()`."""

from __future__ import annotations

import torch

from vfi.plugins.args import check_dims, check_same_device_and_dtype, check_tensor
from vfi.plugins.autograd import register_reference_autograd
from vfi.plugins.sepconv.reference import sepconv_reference
from vfi.plugins.sepconv.spec import INPUT_LAYOUT, KERNEL_LAYOUT


@torch.library.custom_op("vfi::sepconv", mutates_args=())
def sepconv_op(input: torch.Tensor, vertical: torch.Tensor, horizontal: torch.Tensor) -> torch.Tensor:
    return sepconv_reference(input, vertical, horizontal)


@sepconv_op.register_fake
def _(input, vertical, horizontal):
    return input.new_empty(input.shape[0], input.shape[1], vertical.shape[2], vertical.shape[3])


register_reference_autograd(sepconv_op, sepconv_reference)


def sepconv(input: torch.Tensor, vertical: torch.Tensor, horizontal: torch.Tensor) -> torch.Tensor:
    """Filter `input` [N,C,H+K-1,W+K-1] with one kernel pair per output pixel (OPS.md "sepconv").

    `vertical` and `horizontal` [N,K,H,W] hold the row and column taps; K, H and W are read from
    them. The caller pads `input` (the SepConv network replicate-pads by K//2).
    """
    op = "sepconv"
    check_tensor(op, "input", input, 4, INPUT_LAYOUT)
    check_tensor(op, "vertical", vertical, 4, KERNEL_LAYOUT)
    check_tensor(op, "horizontal", horizontal, 4, KERNEL_LAYOUT)
    n = input.shape[0]
    _, k, h, w = vertical.shape
    if k < 1:
        raise ValueError(f"{op}: vertical must have shape [{KERNEL_LAYOUT}] with K >= 1 taps, got {list(vertical.shape)}")
    check_dims(op, "vertical", vertical, {0: n}, KERNEL_LAYOUT)
    check_dims(op, "horizontal", horizontal, {0: n, 1: k, 2: h, 3: w}, KERNEL_LAYOUT)
    check_dims(op, "input", input, {2: h + k - 1, 3: w + k - 1}, INPUT_LAYOUT)
    check_same_device_and_dtype(op, input=input, vertical=vertical, horizontal=horizontal)
    return sepconv_op(input, vertical, horizontal)
