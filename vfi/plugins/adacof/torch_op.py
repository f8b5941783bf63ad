"""`torch.ops.vfi.adacof` and the public, validating `adacof()`."""

from __future__ import annotations

import math

import torch

from vfi.plugins.adacof.reference import adacof_reference
from vfi.plugins.adacof.spec import INPUT_LAYOUT, MAP_LAYOUT
from vfi.plugins.args import check_dims, check_same_device_and_dtype, check_tensor
from vfi.plugins.autograd import register_reference_autograd


@torch.library.custom_op("vfi::adacof", mutates_args=())
def adacof_op(
    input: torch.Tensor, weight: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, dilation: int
) -> torch.Tensor:
    return adacof_reference(input, weight, alpha, beta, dilation)


@adacof_op.register_fake
def _(input, weight, alpha, beta, dilation):
    n, c = input.shape[:2]
    h, w = weight.shape[2:]
    return input.new_empty(n, c, h, w)


register_reference_autograd(adacof_op, adacof_reference)


def adacof(
    input: torch.Tensor,
    weight: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    dilation: int = 1,
) -> torch.Tensor:
    """Per-pixel F×F deformable kernels (OPS.md "adacof"): `input` [N,C,H+(F-1)D,W+(F-1)D],
    already padded by the caller; `weight`, `alpha` (vertical offset) and `beta` (horizontal
    offset) [N,F*F,H,W] with channel m = k*F + l for kernel row k; returns [N,C,H,W]."""
    op = "adacof"
    # bool is an int subclass, but True is no dilation.
    if not isinstance(dilation, int) or isinstance(dilation, bool) or dilation < 1:
        raise ValueError(f"{op}: dilation must be an integer >= 1, got {dilation!r}")
    check_tensor(op, "input", input, 4, INPUT_LAYOUT)
    check_tensor(op, "weight", weight, 4, MAP_LAYOUT)
    check_tensor(op, "alpha", alpha, 4, MAP_LAYOUT)
    check_tensor(op, "beta", beta, 4, MAP_LAYOUT)
    n, taps, h, w = weight.shape
    size = math.isqrt(taps)
    if taps < 1 or size * size != taps:
        raise ValueError(
            f"{op}: weight must have shape [{MAP_LAYOUT}] with a square channel count F*F, got {taps} channels"
        )
    check_dims(op, "weight", weight, {0: input.shape[0]}, MAP_LAYOUT)
    for name, offsets in (("alpha", alpha), ("beta", beta)):
        check_dims(op, name, offsets, {0: n, 1: taps, 2: h, 3: w}, MAP_LAYOUT)
    pad = (size - 1) * dilation
    check_dims(op, "input", input, {2: h + pad, 3: w + pad}, INPUT_LAYOUT)
    check_same_device_and_dtype(op, input=input, weight=weight, alpha=alpha, beta=beta)
    return adacof_op(input, weight, alpha, beta, dilation)
