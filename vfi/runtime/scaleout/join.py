"""The driver's half of a split run: the chunks' frames encoded once, in order, into the output with
the input's audio and subtitles, as the single-process run writes them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from vfi.runtime.scaleout.chunk import COUNTERS, ChunkResult, output_frames
from vfi.runtime.scaleout.plan import Chunk
from vfi.runtime.video.sink import EncoderOptions, Sink
from vfi.runtime.video.source import Decoded, Source
from vfi.runtime.video.summary import VideoSummary


class Joiner:
    """Encodes the chunks' frames into `target`, the chunks given in order (`add`), then `finish`."""

    def __init__(self, source: Source, first: Decoded, target: Path, rate: Fraction, time_base: Fraction,
                 encoder: EncoderOptions, summary: VideoSummary, input: str):
        self.rate, self.time_base, self.start, self.summary = rate, time_base, first.time, summary
        self.sink = Sink(str(target), summary.output, source, first, rate, time_base, encoder, summary)
        self.frame_format = (self.sink.pictures.pix_fmt, source.width, source.height)
        self.finished = False
        # The copied streams, read a second time from the input, muxed alongside the video by time.
        self.extra = av.open(input) if source.remux else None
        self.packets = (p for p in self.extra.demux([self.extra.streams[s.index] for s in source.remux])
                        if p.dts is not None) if self.extra else iter(())
        self.pending: av.Packet | None = next(self.packets, None)

    def add(self, chunk: Chunk, result: ChunkResult) -> None:
        count = 0
        for count, frame in enumerate(output_frames(result.video, *self.frame_format), 1):
            time = self.start + Fraction(chunk.first_output + count - 1) / self.rate
            self._copy_streams_until(time)
            frame.pict_type = result.picture_types[count - 1]
            self.sink.write(round(time / self.time_base), frame)
        if chunk.output_frames is not None and count != chunk.output_frames:
            raise RuntimeError(f"chunk {chunk.index} returned {count} output frames, not {chunk.output_frames}")
        for name in COUNTERS:
            setattr(self.summary, name, getattr(self.summary, name) + result.counts[name])

    def finish(self, last: ChunkResult) -> None:
        """Ends the output where the input's last frame ends (`last`: the last chunk's result)."""
        self._copy_streams_until(None)
        summary = self.summary
        shown = self.start + Fraction(summary.expected - 1) / self.rate
        end = last.last_time + last.last_duration
        self.sink.finish(round((end - shown) / self.time_base))
        self.finished = True
        summary.input_duration_s = float(end - self.start)
        summary.output_duration_s = float(end - self.start)

    def close(self) -> None:
        if not self.finished:
            self.sink.abandon()
        if self.extra is not None:
            self.extra.close()

    def _copy_streams_until(self, time: Fraction | None) -> None:
        while self.pending is not None and (time is None or self.pending.dts * self.pending.time_base <= time):
            self.sink.packet(self.pending)
            self.pending = next(self.packets, None)
