"""The summary of a video run: every frame counted, what was lost and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class VideoSummary:
    input: str
    output: str
    model: str
    path: str = ""  # the backend, device and threads chosen, and why (Interpolator.path)
    input_rate: str = ""
    output_rate: str = ""
    width: int = 0
    height: int = 0
    pix_fmt: str = ""
    decoded: int = 0  # input frames placed in time
    skipped_input: int = 0  # input frames whose timestamp was not after the previous one's
    damaged_input: int = 0  # input frames that could not be read or decoded (damaged or truncated file)
    damage: str = ""  # what was wrong with them
    expected: int = 0  # output timestamps
    original: int = 0  # output frames that are input frames (t = 0)
    interpolated: int = 0
    repeated_at_cuts: int = 0
    nearest_input: int = 0  # midpoint-only models: the nearest bisection step was an input frame
    written: int = 0  # video frames the encoder delivered to the container
    inferences: int = 0  # model evaluations, bisection midpoints included
    scene_cuts: int = 0
    remuxed_streams: list[str] = field(default_factory=list)
    dropped_streams: list[str] = field(default_factory=list)
    input_duration_s: float | None = None
    output_duration_s: float | None = None
    elapsed_s: float = 0.0
    partial: bool = False  # stopped early by Ctrl-C with keep_partial
    chunks: int = 0  # split across workers (--ray): the chunks, and those run again after a worker died
    retried_chunks: int = 0
    workers: list[dict] = field(default_factory=list)  # --ray: what each worker did

    @property
    def lost(self) -> int:
        return self.expected - self.written + self.skipped_input + self.damaged_input

    def to_dict(self) -> dict:
        return {**asdict(self), "lost": self.lost}

    def report(self) -> str:
        fps = self.written / self.elapsed_s if self.elapsed_s else 0.0
        return (
            f"{self.input} → {self.output}: {self.width}x{self.height} {self.input_rate} → {self.output_rate} fps with "
            f"{self.model}{' (partial)' if self.partial else ''}\n"
            + (f"  path: {self.path}\n" if self.path else "")
            + f"  frames: decoded {self.decoded}, written {self.written} of {self.expected} "
            f"(original {self.original}, interpolated {self.interpolated}, repeated at cuts {self.repeated_at_cuts}, "
            f"nearest input {self.nearest_input}); scene cuts {self.scene_cuts}; lost {self.lost}\n"
            + (f"  damaged input: {self.damaged_input} frames lost ({self.damage})\n" if self.damaged_input else "")
            + f"  duration: input {_seconds(self.input_duration_s)}, output {_seconds(self.output_duration_s)}; "
            f"{self.elapsed_s:.1f} s ({fps:.1f} output fps)"
            + (f"\n  copied streams: {', '.join(self.remuxed_streams)}" if self.remuxed_streams else "")
            + (f"\n  dropped streams: {', '.join(self.dropped_streams)}" if self.dropped_streams else "")
            + (f"\n  workers: {len(self.workers)} on {self.chunks} chunks ({self.retried_chunks} retried): "
               + "; ".join(f"{w['worker']} {w['chunks']} chunks, {w['frames']} frames{' (died)' if w['died'] else ''}"
                           for w in self.workers) if self.workers else "")
        )


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f} s"
