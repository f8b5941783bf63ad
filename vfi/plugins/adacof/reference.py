"""Pure-PyTorch AdaCoF (OPS.md "adacof"): the ground truth for every other layer."""

from __future__ import annotations

import math

import torch

from vfi.plugins.args import compute_dtype

# Taps are processed in groups whose gathered corners [N,C,taps,4,H·W] stay within this many
# elements: small inputs take every tap in one group (few ops, so gradcheck and opcheck tracing
# stay quick), frames take one tap at a time, so memory is O(C·H·W) whatever F.
GROUP_ELEMENTS = 1 << 22


def adacof_reference(
    input: torch.Tensor,
    weight: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    dilation: int = 1,
) -> torch.Tensor:
    """out[n,c,i,j] = Σ_m weight[n,m,i,j] · Samp(i + k·D + alpha[n,m,i,j], j + l·D + beta[n,m,i,j])
    with m = k·F + l, and Samp the official sampler (trunc toward zero, independently clamped
    corners, see README.md).

    Arithmetic runs in float32 (float64 when any input is float64); the output has the input's
    dtype. Differentiable with respect to all four tensors, the image included.
    """
    dtype = compute_dtype(input, weight, alpha, beta)
    image = input.to(dtype)
    weight, alpha, beta = weight.to(dtype), alpha.to(dtype), beta.to(dtype)
    n, c, h_in, w_in = image.shape
    taps, h, w = weight.shape[1:]
    size = math.isqrt(taps)
    hw = h * w

    flat_image = image.reshape(n, c, h_in * w_in)
    rows = torch.arange(h, dtype=dtype, device=image.device).view(h, 1)
    cols = torch.arange(w, dtype=dtype, device=image.device).view(1, w)
    group = max(1, GROUP_ELEMENTS // max(1, n * c * 4 * hw))

    out = image.new_zeros(n, c, hw)
    for start in range(0, taps, group):
        stop = min(start + group, taps)
        tap = torch.arange(start, stop, device=image.device)
        kernel_row = (tap // size * dilation).to(dtype).view(-1, 1, 1)
        kernel_col = (tap % size * dilation).to(dtype).view(-1, 1, 1)
        tap_alpha, tap_beta = alpha[:, start:stop], beta[:, start:stop]  # [N,G,H,W]
        # trunc, not floor: a and b are negative for negative fractional offsets and the sampler
        # then extrapolates from the pair (r0, r0 + 1), as the checkpoints were trained.
        whole_row, whole_col = tap_alpha.trunc(), tap_beta.trunc()
        a, b = tap_alpha - whole_row, tap_beta - whole_col
        top = whole_row + (rows + kernel_row)
        left = whole_col + (cols + kernel_col)
        # Corner axes (row r0|r1, column c0|c1); each index is clamped on its own and the
        # bilinear weights are left as they are. Integer before the product: a float32 flat
        # index would be inexact beyond 2^24 pixels.
        row = torch.stack([top.clamp(0, h_in - 1), (top + 1).clamp(0, h_in - 1)], 2).long()
        col = torch.stack([left.clamp(0, w_in - 1), (left + 1).clamp(0, w_in - 1)], 2).long()
        index = (row * w_in).unsqueeze(3) + col.unsqueeze(2)  # [N,G,2,2,H,W]
        row_weight = torch.stack([1 - a, a], 2)
        col_weight = torch.stack([1 - b, b], 2)
        corner_weight = row_weight.unsqueeze(3) * col_weight.unsqueeze(2) * weight[:, start:stop, None, None]
        corners = flat_image.gather(2, index.view(n, 1, -1).expand(-1, c, -1))
        out = out + (corners.view(n, c, -1, hw) * corner_weight.view(n, 1, -1, hw)).sum(2)
    return out.view(n, c, h, w).to(input.dtype)
