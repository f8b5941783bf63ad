"""classic: a weight-free interpolator, the default of `vfi interpolate` when no checkpoint is given.

1. Bidirectional optical flow by TV-L1 (Zach, Pock & Bischof 2007, in the primal-dual form of
   Wedel et al. 2009), coarse to fine: luminance pyramid from half resolution (a quarter with
   `--quality fast`) down to 1/32, at each level a fixed number of warps (the data term linearised around the current flow) with a
   fixed number of primal-dual iterations each, then a 3×3 median filter. The L1 data term makes the flow robust to outliers such as
   occlusions, specular highlights and local shading changes; each frame's luminance is
   normalised to zero mean and unit variance first, which absorbs global exposure changes and
   fades at the cost of three reductions. Finally, where zero motion explains a neighbourhood
   better than the flow does, the flow gives way to it (`prefer_static`).
2. Both frames forward-warped to time t by softmax splatting (Niklaus & Liu 2020) with the
   brightness-constancy importance metric of its §3.1 on luminance Y:
   Z = −α·|Y0 − backwarp(Y1, F0→1)|, clamped to [−20, 20]; `softsplat` sums [I·exp(Z), exp(Z)]
   (its summation operator, mode `sum`) and the softmax's normalisation is done in step 3.
3. The two directions blended as one softmax: by t and by the splatted importance Σ exp(Z), so a
   target pixel takes its colour from whichever frame's pixels land there most consistently; where
   neither frame lands (holes in both directions) the linear blend of the frames fills in.

Before splatting, each frame is sharpened by exactly the amount that the bilinear splatting kernel
blurs it at that pixel's fractional target position (see `presharpen`); this alone is worth 0.7 dB
on Middlebury (34.52 against 33.84).

The module has no parameters, only fixed buffers. Every loop has a fixed count, so the exported
graph has no data-dependent control flow: the iterations of each warp become one ONNX `Loop` with
a constant trip count (unrolled they would add ~4000 nodes and take many minutes to export).

Constants were chosen on Middlebury (`vfi eval`), the only ground truth at hand; the comments give
the measured effect of the neighbouring values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vfi.models.card import ModelCard
from vfi.plugins.softsplat import softsplat


@dataclass(frozen=True)
class FlowSchedule:
    """How much TV-L1 work the flow gets: (warps, primal-dual iterations per warp) per pyramid
    level, coarsest first, and the finest level's scale, 1/2**finest of the input."""

    levels: tuple[tuple[int, int], ...]
    finest: int = 1

    @property
    def pad_multiple(self) -> int:
        return 2 ** (len(self.levels) + self.finest - 1)  # every level halves its parent exactly


# The default (`--quality balanced`), levels 1/32 to 1/2. One warp at the two coarsest levels and 10
# iterations at 1/8 measure the same on Middlebury as (2, 15) at the three coarsest (34.52 dB) for
# fewer small-level Loop steps, whose cost in ONNX Runtime is mostly per-node overhead; (1, 6) at
# 1/2: −0.03 dB; 10 iterations at the coarsest: −0.04 dB; flow from 1/4 instead of 1/2: −0.57 dB.
BALANCED = FlowSchedule(((1, 15), (1, 15), (2, 10), (2, 8), (1, 8)))
# `--quality fast`: the same levels without the finest, so the flow ends at 1/4 of the input.
FAST = FlowSchedule(BALANCED.levels[:-1], finest=2)
# `--quality best`: (2, 30) at the four coarse levels, 3-4× the default's iterations there. Camera motion on
# real footage (car-turn.mp4) needs them to converge where the default stops short; numbers in
# docs/classic.md.
BEST = FlowSchedule(((2, 30),) * 4 + ((1, 8),))
DATA_WEIGHT = 4.0  # TV-L1 λ, for luminance normalised to unit variance (3: −0.05 dB, 5: −0.04 dB)
COUPLING = 0.3  # TV-L1 θ
DUAL_STEP = 0.25  # TV-L1 τ (≤ 1/4 for convergence)
METRIC_SCALE = 5.0  # α in Z = −α·|brightness constancy error|, luminance in [0, 1] (2.5: −0.06 dB, 10: −0.07 dB)
METRIC_CLIP = 20.0  # |Z| bound, as the SoftSplat network clamps its metric
SHARPEN_GAIN = 1.5  # × the exact bilinear compensation (1.0: −0.08 dB, 2.0: −0.12 dB)
# prefer_static: the window (pixels at half resolution) over which the flow's and zero motion's
# warping errors are averaged, and the width of the ramp between them (normalised luminance).
# Measured (PyTorch, mean PSNR dB, Middlebury / cdfi-img-seq / car-turn.mp4, 2026-12-07): without
# it 34.52 / 35.02 / 29.99; window 9, ramp 0.02: 34.70 / 36.31 / 29.93; a hard choice instead of
# the ramp the same ±0.01; window 5: 34.66 / 36.27 / 29.82; 15: 34.66 / 36.29 / 29.97; at every
# level instead of the last: 34.52 / 36.40 / 29.26; a 0.8× or 1.25× bias to either side trades
# cdfi against car-turn (36.00 / 29.96, 36.48 / 29.82).
STATIC_WINDOW = 9
STATIC_RAMP = 0.02
HOLE_WEIGHT = 1e-3  # importance of the linear blend; dominates only where no pixel lands
LUMA = (0.299, 0.587, 0.114)


def backwarp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `image` at (x + u, y + v): bilinear, border values outside the frame."""
    height, width = flow.shape[2:]
    x = torch.arange(width, dtype=flow.dtype, device=flow.device).view(1, 1, width)
    y = torch.arange(height, dtype=flow.dtype, device=flow.device).view(1, height, 1)
    # align_corners=False: pixel centres at (i + 0.5) / size, so a 1-pixel level is valid.
    grid_x = (x + 0.5 + flow[:, 0]) * (2.0 / width) - 1.0
    grid_y = (y + 0.5 + flow[:, 1]) * (2.0 / height) - 1.0
    grid = torch.stack([grid_x, grid_y], dim=3)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def upsample_flow(flow: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """`factor` times the size and the displacement."""
    return F.interpolate(flow, scale_factor=float(factor), mode="bilinear", align_corners=False) * factor


def neighbours(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The left, right, upper and lower neighbour of every pixel, edges replicated."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return padded[:, :, 1:-1, :-2], padded[:, :, 1:-1, 2:], padded[:, :, :-2, 1:-1], padded[:, :, 2:, 1:-1]


def _sort3(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor):
    low, high = torch.minimum(a, b), torch.maximum(a, b)
    return torch.minimum(low, c), torch.maximum(low, torch.minimum(high, c)), torch.maximum(high, c)


def median3x3(x: torch.Tensor) -> torch.Tensor:
    """The exact median of every 3×3 window (edges replicated) with 19 min/max operations: sort
    each row of three, then the median of (largest row minimum, median of row medians, smallest
    row maximum). TopK over the nine neighbours is ~20× slower in ONNX Runtime."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    low, mid, high = _sort3(padded[:, :, :, :-2], padded[:, :, :, 1:-1], padded[:, :, :, 2:])
    rows = lambda r: (r[:, :, :-2], r[:, :, 1:-1], r[:, :, 2:])  # noqa: E731 - the three rows of each window
    low0, low1, low2 = rows(low)
    high0, high1, high2 = rows(high)
    largest_low = torch.maximum(torch.maximum(low0, low1), low2)
    smallest_high = torch.minimum(torch.minimum(high0, high1), high2)
    return _sort3(largest_low, _sort3(*rows(mid))[1], smallest_high)[1]


def repeat(body, count: int, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """`state = body(*state)`, `count` times. Exported as one ONNX Loop with a constant trip count
    (torch.while_loop), which keeps the graph small enough to export in seconds rather than
    minutes; run eagerly as a Python loop, which while_loop cannot do without torch.compile."""
    if not torch.compiler.is_exporting():
        for _ in range(count):
            state = body(*state)
        return state

    def more(i, *_):
        return i < count

    def step(i, *carried):
        return (i + 1, *body(*carried))

    return tuple(torch.while_loop(more, step, (torch.zeros((), dtype=torch.int64), *state))[1:])


def tvl1_warp(reference: torch.Tensor, other: torch.Tensor, flow: torch.Tensor, dual_x: torch.Tensor,
              dual_y: torch.Tensor, iterations: int):
    """Linearise the data term around `flow` (warp `other` once), then `iterations` TV-L1
    primal-dual steps (Wedel et al. 2009, eq. 5-8) on that convex problem. flow [B,2,H,W];
    dual_x, dual_y [B,2,H,W] are p's x and y components for u and v.

    The warp stays outside the loop: the exporter does not version-convert Loop bodies, so a
    GridSample there would keep its opset-16 mode name, which ONNX Runtime rejects at opset 20."""
    warped = backwarp(other, flow)
    left, right, up, down = neighbours(warped)
    gradient = 0.5 * torch.cat([right - left, down - up], dim=1)
    # ρ(u) = ρ0 + ∇I·u, and the thresholding step in one clamp: −ρ/|∇I|² limited to ±λθ, along ∇I.
    rho0 = warped - reference - (gradient * flow).sum(1, keepdim=True)
    inverse = -1.0 / ((gradient * gradient).sum(1, keepdim=True) + 1e-6)
    bound = DATA_WEIGHT * COUPLING
    ratio = DUAL_STEP / COUPLING

    def step(flow, dual_x, dual_y):
        rho = rho0 + (gradient * flow).sum(1, keepdim=True)
        v = flow + (rho * inverse).clamp(-bound, bound) * gradient
        # u = v + θ·div p, with p = 0 outside the frame (backward differences).
        divergence = (dual_x - F.pad(dual_x[:, :, :, :-1], (1, 0))) + (dual_y - F.pad(dual_y[:, :, :-1], (0, 0, 1, 0)))
        flow = v + COUPLING * divergence
        # p ← (p + τ/θ·∇u) / (1 + τ/θ·|∇u|), forward differences, zero across the last row/column.
        grad_x = ratio * F.pad(flow[:, :, :, 1:] - flow[:, :, :, :-1], (0, 1))
        grad_y = ratio * F.pad(flow[:, :, 1:] - flow[:, :, :-1], (0, 0, 0, 1))
        norm = 1.0 + torch.sqrt(grad_x * grad_x + grad_y * grad_y)
        return flow, (dual_x + grad_x) / norm, (dual_y + grad_y) / norm

    return repeat(step, iterations, (flow, dual_x, dual_y))


def tvl1_flow(luma: torch.Tensor, pairs: int, schedule: FlowSchedule) -> torch.Tensor:
    """Flows at 1/2**schedule.finest of the resolution of `luma` [2P,1,H,W] (the P first frames,
    then the P second frames; H and W multiples of schedule.pad_multiple): first→second for the
    first P, second→first for the others."""
    pyramid = [F.avg_pool2d(luma, 2 ** schedule.finest)]
    for _ in schedule.levels[1:]:
        pyramid.append(F.avg_pool2d(pyramid[-1], 2))
    flow = dual_x = dual_y = None
    for (warps, iterations), reference in zip(schedule.levels, reversed(pyramid)):
        other = torch.cat([reference[pairs:], reference[:pairs]])
        if flow is None:
            # Three tensors, not one: torch.while_loop rejects aliased loop-carried values.
            flow, dual_x, dual_y = (torch.zeros_like(reference).repeat(1, 2, 1, 1) for _ in range(3))
        else:
            flow = upsample_flow(flow)
            dual_x = F.interpolate(dual_x, scale_factor=2.0, mode="nearest")
            dual_y = F.interpolate(dual_y, scale_factor=2.0, mode="nearest")
        for _ in range(warps):
            flow, dual_x, dual_y = tvl1_warp(reference, other, flow, dual_x, dual_y, iterations)
        # Once per level: after every warp measures the same on Middlebury and costs more nodes.
        flow = median3x3(flow)
    return prefer_static(reference, other, flow)


def box_mean(x: torch.Tensor, size: int) -> torch.Tensor:
    """The mean of every size×size window (size odd, edges replicated), as two 1-D passes."""
    r = size // 2
    rows = F.avg_pool2d(F.pad(x, (r, r, 0, 0), mode="replicate"), (1, size), 1)
    return F.avg_pool2d(F.pad(rows, (0, 0, r, r), mode="replicate"), (size, 1), 1)


def prefer_static(reference: torch.Tensor, other: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """`flow` scaled towards zero where zero motion warps `other` onto `reference` with less error
    over the surrounding window. TV-L1's smoothness term spreads the motion of a moving object, or
    a wrong match from the coarse levels, over static low-texture regions (asphalt, sky) that the
    few fixed iterations cannot pull back; there the splat then smears static texture. On
    cdfi-img-seq, a static camera, that made classic worse than the plain blend (35.02 against
    35.90 dB). A continuous ramp, not a hard choice, so that ONNX Runtime's rounding cannot flip
    pixels between the two."""
    flow_error = box_mean((backwarp(other, flow) - reference).abs(), STATIC_WINDOW)
    static_error = box_mean((other - reference).abs(), STATIC_WINDOW)
    return flow * ((static_error - flow_error) / STATIC_RAMP + 0.5).clamp(0.0, 1.0)


def presharpen(frames: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Compensate the blur of bilinear splatting: a source landing at fractional offset f along an
    axis is spread as [1−f, f], whose response is 1 − f(1−f)(1 − cos ω) + O(ω⁴); the 3-tap
    sharpening 1 + a(2 − 2cos ω) with a = f(1−f)/2 cancels that term."""
    fraction = flow - torch.floor(flow)
    amount = (0.5 * SHARPEN_GAIN) * fraction * (1.0 - fraction)
    left, right, up, down = neighbours(frames)
    return frames + amount[:, 0:1] * (2 * frames - left - right) + amount[:, 1:2] * (2 * frames - up - down)


class ClassicNet(nn.Module):
    """forward(frame0, frame1, t): RGB [N,3,H,W] in [0, 1], t [N] in (0, 1) → RGB [N,3,H,W]."""

    def __init__(self, schedule: FlowSchedule = BALANCED):
        super().__init__()
        self.schedule = schedule
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def flow(self, luma: torch.Tensor, pairs: int) -> torch.Tensor:
        """Full-resolution flows of the luminance `luma` [2P,1,H,W] (as in `tvl1_flow`)."""
        height, width = luma.shape[2:]
        multiple = self.schedule.pad_multiple
        pad_h = (multiple - height % multiple) % multiple
        pad_w = (multiple - width % multiple) % multiple
        mean = luma.mean(dim=(2, 3), keepdim=True)
        std = (luma - mean).square().mean(dim=(2, 3), keepdim=True).sqrt()
        luma = F.pad((luma - mean) / (std + 1e-2), (0, pad_w, 0, pad_h), mode="replicate")
        flow = tvl1_flow(luma, pairs, self.schedule)
        return upsample_flow(flow, 2 ** self.schedule.finest)[:, :, :height, :width]

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = frame0.shape[0]
        frames = torch.cat([frame0, frame1])
        luma = (frames * self.luma).sum(1, keepdim=True)
        flow = self.flow(luma, n)  # F0→1 for the first n, F1→0 for the others

        # Brightness constancy on luminance: one channel to warp at full resolution instead of
        # three (measured 0.02 dB less on Middlebury than the mean over RGB, with α = 10).
        error = (luma - backwarp(torch.cat([luma[n:], luma[:n]]), flow)).abs()
        metric = (-METRIC_SCALE * error).clamp(-METRIC_CLIP, METRIC_CLIP)
        t = t.to(frame0.dtype).view(n, 1, 1, 1)
        elapsed = torch.cat([t, 1.0 - t])  # how far each frame's pixels travel towards time t
        flow_t = flow * elapsed
        # Softmax splatting as the summation operator on [I·exp(Z), exp(Z)]: the normalisation
        # happens once, over both directions, in the blend below. (Mode "soft" with a ones channel
        # and eps = 1 gives the same numbers but splats 5 channels instead of 4: 13% more time.)
        importance = torch.exp(metric)  # ≤ 1: Z ≤ 0
        source = torch.cat([presharpen(frames, flow_t) * importance, importance], dim=1)
        # One splat per direction, not one over both: ONNX Runtime's ScatterElements slows down
        # ~3x per element beyond about four 640x360 planes, so two 4-plane splats measured 64 ms
        # per frame against 90 ms for one 8-plane splat (car-turn, 1 thread, idle, 2026-11-21).
        splatted = torch.cat([softsplat(s, f, mode="sum") for s, f in zip(source.split(n), flow_t.split(n))])
        weight = 1.0 - elapsed  # frame0 counts 1 − t, frame1 counts t
        numerator = weight * splatted[:, 0:3]
        denominator = weight * splatted[:, 3:4]
        blend = (1.0 - t) * frame0 + t * frame1
        return (numerator[:n] + numerator[n:] + HOLE_WEIGHT * blend) / (denominator[:n] + denominator[n:] + HOLE_WEIGHT)


# `--quality` → (the registered model it runs, its schedule, its summary); each preset is a model of
# its own, so it gets its own cached export.
PRESETS = {
    "fast": ("classic-fast", FAST, "classic with the flow at 1/4 resolution (--quality fast)"),
    "balanced": ("classic", BALANCED, "weight-free default: TV-L1 flow both ways, softmax splatting with a "
                 "brightness-constancy metric; any t"),
    "best": ("classic-best", BEST, "classic with 3-4× the TV-L1 iterations at the coarse levels, for camera motion "
             "(--quality best)"),
}
QUALITY_MODELS = {quality: name for quality, (name, _, _) in PRESETS.items()}

CARDS = tuple(
    ModelCard(
        name=name,
        summary=summary,
        build=functools.partial(ClassicNet, schedule),
        ops=("softsplat",),
        pad_multiple=schedule.pad_multiple,
        arbitrary_t=True,
    )
    for name, schedule, summary in PRESETS.values()
)
