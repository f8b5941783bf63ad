"""Pure-PyTorch softmax splatting (OPS.md "softsplat"): the ground truth for every other layer."""

from __future__ import annotations

import torch

from vfi.plugins.args import compute_dtype

NORMALISED_MODES = ("avg", "linear", "soft")


def splat(values: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The summation operator S: bilinear forward splatting of `values` [N,C,H,W] along `flow`.

    Sources whose target is not finite contribute nothing; corners outside the frame are dropped.
    """
    n, c, h, w = values.shape
    x = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    y = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    tx = x + flow[:, 0]  # [N,H,W]
    ty = y + flow[:, 1]
    finite = torch.isfinite(tx) & torch.isfinite(ty)
    # Non-finite targets are replaced before floor() so that no NaN reaches the weights' autograd.
    tx = torch.where(finite, tx, torch.zeros_like(tx))
    ty = torch.where(finite, ty, torch.zeros_like(ty))
    x0 = torch.floor(tx)
    y0 = torch.floor(ty)
    fx = tx - x0
    fy = ty - y0

    out = values.new_zeros(n, c, h * w)
    flat_values = values.reshape(n, c, h * w)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        cx = x0 + dx
        cy = y0 + dy
        weight = (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
        inside = finite & (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
        index = torch.where(inside, cy * w + cx, torch.zeros_like(cx)).long().view(n, 1, h * w)
        contribution = torch.where(
            inside.view(n, 1, h * w),
            flat_values * weight.view(n, 1, h * w),
            flat_values.new_zeros(()),
        )
        out = out.scatter_add(2, index.expand(n, c, h * w), contribution)
    return out.view(n, c, h, w)


def softsplat_reference(
    input: torch.Tensor,
    flow: torch.Tensor,
    metric: torch.Tensor | None = None,
    mode: str = "soft",
    eps: float = 1e-7,
) -> torch.Tensor:
    """Forward-warp `input` by `flow` in one of the modes sum, avg, linear, soft.

    Arithmetic runs in float32 (float64 when the inputs are float64); the output has the input's
    dtype. exp(metric) is taken inside, unclamped: callers clamp the metric.
    """
    dtype = compute_dtype(input, flow, metric)
    values = input.to(dtype)
    flow = flow.to(dtype)
    if mode == "sum":
        return splat(values, flow).to(input.dtype)
    if mode == "avg":
        importance = torch.ones_like(values[:, :1])
    elif mode == "linear":
        importance = metric.to(dtype)
    elif mode == "soft":
        importance = torch.exp(metric.to(dtype))
    else:
        raise ValueError(f"softsplat: unknown mode {mode!r}")
    splatted = splat(torch.cat([values * importance, importance], dim=1), flow)
    out = splatted[:, :-1] / (splatted[:, -1:] + eps)
    return out.to(input.dtype)
