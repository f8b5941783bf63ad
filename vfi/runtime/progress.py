"""A one-line progress bar on stderr (frames, fps, ETA), for terminals only."""

from __future__ import annotations

import sys
import time

_INTERVAL_S = 0.25
_WIDTH = 30


class Progress:
    def __init__(self, total: int | None, enabled: bool, stream=None):
        self.total, self.enabled = total, enabled
        self.stream = stream or sys.stderr
        self.started = self.shown = time.monotonic()
        self.done = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled and self.done:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self.shown >= _INTERVAL_S:
            self.shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        fps = self.done / elapsed
        if self.total:
            fraction = min(1.0, self.done / self.total)
            filled = int(fraction * _WIDTH)
            eta = (self.total - self.done) / fps if fps > 0 else float("inf")
            line = (
                f"\r[{'#' * filled}{'.' * (_WIDTH - filled)}] {self.done}/{self.total} frames "
                f"{fps:.1f} fps ETA {_clock(eta)}"
            )
        else:
            line = f"\r{self.done} frames {fps:.1f} fps {_clock(elapsed)}"
        self.stream.write(line)
        self.stream.flush()


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    minutes, seconds = divmod(int(seconds + 0.5), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes:02d}:{seconds:02d}"
