"""`torch.ops.vfi.softsplat` and the public, validating `softsplat()`."""

from __future__ import annotations

import torch

from vfi.plugins.args import check_dims, check_same_device_and_dtype, check_tensor
from vfi.plugins.autograd import register_reference_autograd
from vfi.plugins.softsplat.reference import softsplat_reference
from vfi.plugins.softsplat.spec import MODES, MODES_WITH_METRIC


@torch.library.custom_op("vfi::softsplat", mutates_args=())
def softsplat_op(
    input: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor | None, mode: str, eps: float
) -> torch.Tensor:
    return softsplat_reference(input, flow, metric, mode, eps)


@softsplat_op.register_fake
def _(input, flow, metric, mode, eps):
    return torch.empty_like(input)


register_reference_autograd(softsplat_op, softsplat_reference)


def softsplat(
    input: torch.Tensor,
    flow: torch.Tensor,
    metric: torch.Tensor | None = None,
    mode: str = "soft",
    eps: float = 1e-7,
) -> torch.Tensor:
    """Forward-warp `input` [N,C,H,W] by `flow` [N,2,H,W] (OPS.md "softsplat").

    `metric` [N,1,H,W] is required for modes linear and soft and must be None for sum and avg.
    """
    op = "softsplat"
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(MODES)}; got {mode!r}")
    check_tensor(op, "input", input, 4, "N,C,H,W")
    n, _, h, w = input.shape
    check_tensor(op, "flow", flow, 4, "N,2,H,W")
    check_dims(op, "flow", flow, {0: n, 1: 2, 2: h, 3: w}, "N,2,H,W")
    if mode in MODES_WITH_METRIC:
        if metric is None:
            raise ValueError(f"{op}: metric is required for mode {mode!r} (shape [N,1,H,W])")
        check_tensor(op, "metric", metric, 4, "N,1,H,W")
        check_dims(op, "metric", metric, {0: n, 1: 1, 2: h, 3: w}, "N,1,H,W")
    elif metric is not None:
        raise ValueError(f"{op}: metric must be None for mode {mode!r}")
    check_same_device_and_dtype(op, input=input, flow=flow, metric=metric)
    return softsplat_op(input, flow, metric, mode, float(eps))
