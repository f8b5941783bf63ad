"""Pure-PyTorch AdaCoF (OPS.md "adacof"): the ground truth for every other layer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vfi.plugins.args import compute_dtype

# Taps are processed in groups whose gathered values stay within this many elements (the
# corners of every channel when channels-first, the sample indices when channels-last): small
# inputs take every tap in one group, frames a tap or a few at a time, so memory is O(C·H·W)
# whatever F.
GROUP_ELEMENTS = 1 << 21
# From this many channels on, the corners are summed channels-last by embedding_bag; below it,
# gathered per channel (channels-first). One thread, 480×640 output, F = 11, D = 2, side by side
# under load: C = 3 takes 8.3 s with embedding_bag against 5.9 s channels-first, C = 8 14 s
# against 27-42 s.
EMBEDDING_BAG_MIN_CHANNELS = 8


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

    Every output pixel is a weighted sum of input pixels (4 corners per tap, each weighted by the
    tap weight times its bilinear weight). With many channels the input is laid out
    channels-last as a table of [N·H_in·W_in, C] rows and each group of taps is one
    `embedding_bag` (sum mode with per-sample weights): a fused gather and weighted sum that never
    materialises the gathered values, ~4x faster than gathering every channel's corners at C = 32
    and ~10x at C = 63 (F = 11, D = 2, 480×640 and 240×320, one thread). With few channels the
    corners are gathered per channel, which is faster there (EMBEDDING_BAG_MIN_CHANNELS).

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
    if n * c * hw == 0:
        # Nothing to sample (and the gathers below cannot view zero-element tensors).
        return image.new_zeros((n, c, h, w)).to(input.dtype)

    few_channels = c < EMBEDDING_BAG_MIN_CHANNELS
    flat_image = image.reshape(n, c, h_in * w_in)  # channels-first
    table = None if few_channels else image.permute(0, 2, 3, 1).reshape(n * h_in * w_in, c)  # channels-last
    rows = torch.arange(h, dtype=dtype, device=image.device).view(h, 1)
    cols = torch.arange(w, dtype=dtype, device=image.device).view(1, w)
    first_row = (torch.arange(n, device=image.device) * (h_in * w_in)).view(n, 1, 1, 1, 1, 1)
    group = max(1, GROUP_ELEMENTS // max(1, n * 4 * hw * (c if few_channels else 1)))

    out = image.new_zeros((n, c, hw) if few_channels else (n * hw, c))
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
        samples = (stop - start) * 4
        if few_channels:
            corners = flat_image.gather(2, index.view(n, 1, -1).expand(-1, c, -1))
            out = out + (corners.view(n, c, samples, hw) * corner_weight.view(n, 1, samples, hw)).sum(2)
        else:
            out = out + F.embedding_bag(
                (index + first_row).view(n, samples, hw).transpose(1, 2).reshape(n * hw, samples),
                table,
                mode="sum",
                per_sample_weights=corner_weight.view(n, samples, hw).transpose(1, 2).reshape(n * hw, samples),
            )
    if few_channels:
        return out.view(n, c, h, w).to(input.dtype)
    # Contiguous NCHW, as the op's fake (meta) implementation declares.
    return out.view(n, h, w, c).permute(0, 3, 1, 2).to(input.dtype, memory_format=torch.contiguous_format)
