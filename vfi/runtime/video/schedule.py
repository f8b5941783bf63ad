"""The output schedule: the output time base, and which input frames or interpolations fill each
output time between consecutive input frames."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from vfi.runtime.timesteps import Request, bisection_depth, is_scene_cut, nearest_dyadic
from vfi.runtime.video.options import MAX_TIME_BASE
from vfi.runtime.video.source import Decoded, Source
from vfi.runtime.video.summary import VideoSummary

if TYPE_CHECKING:  # the interpolator calls process_video; this package only holds one
    from vfi.runtime.interpolator import Interpolator


def output_time_base(rate: Fraction, source: Source) -> Fraction:
    """The coarsest time base holding every output time: multiples of 1/rate from a start and to
    an end that are multiples of the input's time base (and of 1/input rate)."""
    ticks = math.lcm(rate.numerator, source.time_base.denominator, source.rate.numerator)
    return Fraction(1, ticks if ticks <= MAX_TIME_BASE else rate.numerator)


@dataclass
class _Slot:
    """One output frame: an input frame shown as is, or an interpolated one (pixels)."""

    index: int
    kind: str  # "original", "interpolated", "repeated_at_cuts" or "nearest_input"
    frame: Decoded | None = None
    pixels: np.ndarray | None = None


class Scheduler:
    """Places output frames on the output grid between consecutive input frames."""

    def __init__(self, interpolator: Interpolator, rate: Fraction, input_rate: Fraction, summary: VideoSummary):
        self.interpolator, self.rate, self.summary = interpolator, rate, summary
        self.depth = bisection_depth(rate / input_rate)
        self.start: Fraction | None = None
        self.previous: Decoded | None = None
        self.next_index = 0
        self.slots: deque[_Slot] = deque()
        self.requests: list[tuple[_Slot, Request]] = []

    def time(self, index: int) -> Fraction:
        return self.start + Fraction(index) / self.rate

    def add(self, frame: Decoded) -> None:
        previous = self.previous
        if previous is None:
            self.start, self.previous = frame.time, frame
            self.summary.decoded += 1
            return
        if frame.time <= previous.time:
            self.summary.skipped_input += 1
            return
        self.summary.decoded += 1
        cut = is_scene_cut(previous.thumb, frame.thumb, self.interpolator.scene_threshold)
        self.summary.scene_cuts += cut
        while (now := self.time(self.next_index)) < frame.time:
            t = (now - previous.time) / (frame.time - previous.time)
            if t > 0 and not cut and not self.interpolator.arbitrary_t:
                t = nearest_dyadic(t, self.depth)
                if t in (0, 1):
                    self._slot("nearest_input", previous if t == 0 else frame)
                    continue
            if t == 0:
                self._slot("original", previous)
            elif cut:
                self._slot("repeated_at_cuts", previous)
            else:
                slot = self._slot("interpolated")
                self.requests.append((slot, Request(previous.index, previous.pixels, frame.pixels, t)))
        self.previous = frame
        if len(self.requests) >= self.interpolator.batch_size:
            self.flush()

    def resume(self, frame: Decoded, start: Fraction) -> None:
        """Continue a run whose first frame was at `start` from `frame`, already placed (and
        counted) by the run up to it: a chunk of a video split across workers (vfi.runtime.scaleout)."""
        self.start, self.previous = start, frame
        self.next_index = math.ceil((frame.time - start) * self.rate)

    def finish(self) -> None:
        """The input ended (or was cut short) at the previous frame."""
        self.flush()
        while self.previous is not None and self.time(self.next_index) <= self.previous.time:
            self._slot("original", self.previous)

    def _slot(self, kind: str, frame: Decoded | None = None) -> _Slot:
        slot = _Slot(self.next_index, kind, frame)
        self.slots.append(slot)
        self.next_index += 1
        return slot

    def flush(self) -> None:
        outputs = self.interpolator.run([request for _, request in self.requests])
        for (slot, _), pixels in zip(self.requests, outputs):
            slot.pixels = pixels
        self.requests = []

    def ready(self):
        """The output frames that can be encoded now, in order, each counted in the summary."""
        while self.slots and (self.slots[0].kind != "interpolated" or self.slots[0].pixels is not None):
            slot = self.slots.popleft()
            setattr(self.summary, slot.kind, getattr(self.summary, slot.kind) + 1)
            self.summary.expected += 1
            yield slot


# -- the pipeline -----------------------------------------------------------------------------
