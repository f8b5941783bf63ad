"""Which frames are computed: timesteps by bisection for midpoint-only models, and scene cuts.

Timesteps. Models that take any t (`arbitrary_t`) get the exact timestep of every output frame.
The others only compute midpoints, so a timestep is reached by recursive bisection: the frame at
1/2 from the pair, 1/4 from (0, 1/2), 3/4 from (1/2, 1), and so on. A target that is not a dyadic
fraction (1/3, or the 0.4 of 24→60 fps) gets the nearest multiple of 2^-depth instead, ties going
to the later one, where depth is the smallest that gives at least as many steps per input interval
as there are output frames in it (factor 2 → 1/2; 3 or 4 → quarters; 5 to 8 → eighths; at most
2^-MAX_BISECTION_DEPTH). When that nearest step is 0 or 1, the input frame itself is used. Each
needed midpoint is computed once per pair.

Scene cuts: each frame gets a thumbnail (vfi.frames.thumbnails: luma, block-averaged to about 36
rows); when the mean absolute difference between consecutive thumbnails exceeds the threshold
(0.10 of full scale by default; measured: consecutive frames of car-turn.mp4 ≤ 0.043 and of the
Middlebury pairs ≤ 0.030, while pairs of unrelated Middlebury scenes ≥ 0.128), output frames
between the two are repeats of the earlier frame instead of warps across the cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

MAX_BISECTION_DEPTH = 4


def bisection_depth(frames_per_interval: Fraction) -> int:
    """The bisection depth for `frames_per_interval` output frames per input interval."""
    steps = max(2, math.ceil(frames_per_interval))
    return min(MAX_BISECTION_DEPTH, (steps - 1).bit_length())


def nearest_dyadic(t: Fraction, depth: int) -> Fraction:
    """The multiple of 2^-depth nearest to t (ties to the later)."""
    scale = 2**depth
    return Fraction(math.floor(t * scale + Fraction(1, 2)), scale)


def is_scene_cut(thumb0: np.ndarray, thumb1: np.ndarray, threshold: float | None) -> bool:
    return threshold is not None and float(np.abs(thumb0 - thumb1).mean()) > threshold


@dataclass
class Request:
    """One output frame to compute between frame0 and frame1 ([3, H, W] float32) at time t in
    (0, 1); `pair` identifies the input pair so bisection shares midpoints within it."""

    pair: int
    frame0: np.ndarray
    frame1: np.ndarray
    t: Fraction
