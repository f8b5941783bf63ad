"""One chunk of a video, interpolated where a worker runs: its input frames decoded from the file,
its output frames scheduled on the whole video's grid and returned losslessly, in the output's pixel
format, for the driver to encode once."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from vfi.runtime.scaleout.plan import Chunk
from vfi.runtime.video.options import VideoError
from vfi.runtime.video.schedule import Scheduler
from vfi.runtime.video.sink import OutputPictures
from vfi.runtime.video.source import Source, error_reason
from vfi.runtime.video.summary import VideoSummary

if TYPE_CHECKING:
    from vfi.runtime.interpolator import Interpolator

# The summary's counters a chunk contributes to, summed over the chunks by the driver.
COUNTERS = ("decoded", "skipped_input", "expected", "original", "interpolated", "repeated_at_cuts",
            "nearest_input", "scene_cuts", "inferences")
_FFV1_FORMATS = frozenset(f.name for f in av.Codec("ffv1", "w").video_formats)


@dataclass(frozen=True)
class ChunkJob:
    """What every chunk of one video shares: the input, the output grid and the output pictures."""

    input: str
    max_pixels: int
    rate: Fraction  # output frames per second
    start: Fraction  # the input's first frame's time: output frame k is at start + k / rate
    pictures: OutputPictures


@dataclass
class ChunkResult:
    index: int
    video: bytes  # the output frames, lossless, in order (see output_frames)
    picture_types: list[int]  # each output frame's, as the single-process encoder would see it
    counts: dict[str, int]  # COUNTERS
    last_time: Fraction  # the last input frame placed, and how long it lasts
    last_duration: Fraction
    elapsed_s: float


def interpolate_chunk(
    interpolator: Interpolator, job: ChunkJob, chunk: Chunk, report: Callable[[int], None] | None = None,
) -> ChunkResult:
    """Interpolate `chunk` of `job`; `report` is told the output frames done so far. Damaged input
    raises a VideoError naming the file."""
    started, inferences = time.perf_counter(), interpolator.inferences
    source = Source(job.input, job.max_pixels)
    counters = VideoSummary(input=source.label, output="", model="")
    scheduler = Scheduler(interpolator, job.rate, source.rate, counters)
    writer = _LosslessWriter(job.pictures, source.width, source.height, job.rate)
    last = None
    try:
        for frame in _frames(source, chunk):
            if last is None and chunk.start_pts is not None:
                scheduler.resume(frame, job.start)  # placed and counted by the previous chunk
            else:
                scheduler.add(frame)
            last = frame
            if chunk.end_pts is not None and frame.frame.pts == chunk.end_pts:
                scheduler.flush()
            writer.write_ready(scheduler)
            if report is not None:
                report(writer.frames)
        if last is None:
            raise VideoError(f"{source.label}: no decodable video frames")
        if chunk.end_pts is None:
            scheduler.finish()
            writer.write_ready(scheduler)
    finally:
        source.container.close()
    counters.inferences = interpolator.inferences - inferences
    return ChunkResult(
        chunk.index, writer.finish(), writer.picture_types, {name: getattr(counters, name) for name in COUNTERS}, last.time, last.duration,
        elapsed_s=time.perf_counter() - started,
    )


def _frames(source: Source, chunk: Chunk) -> Iterator:
    """The chunk's input frames, decoded: from the one shown at start_pts (decoding from its keyframe,
    the packets before demuxed and skipped) to the one at end_pts, included."""
    packets = source.container.demux(source.stream)
    skipped, index, last_time, started = 0, 0, None, chunk.start_pts is None
    where = f"chunk {chunk.index} (from pts {chunk.start_pts or 0})"
    while True:
        try:
            packet = next(packets, None)  # the demuxer ends with an empty packet that flushes the decoder
        except av.FFmpegError as exc:
            raise _damaged(source, where, exc) from exc
        if packet is None:
            break
        if skipped < chunk.skip and packet.size:
            skipped += 1  # counted as plan.scan counts them
            continue
        try:
            frames = source.stream.decode(packet)
        except av.FFmpegError as exc:
            raise _damaged(source, where, exc) from exc
        for frame in frames:
            if not started:
                if frame.pts is None or frame.pts < chunk.start_pts:
                    continue  # shown before the chunk: the previous chunk's
                if frame.pts > chunk.start_pts:
                    raise VideoError(f"{source.label}: {where}: the decoder skipped the frame at pts {chunk.start_pts}; "
                                     "run without --ray")
                started = True
            decoded = source.decoded(frame, index, last_time)
            yield decoded
            index, last_time = index + 1, decoded.time
            if chunk.end_pts is not None and frame.pts == chunk.end_pts:
                return
    if chunk.end_pts is not None:
        raise VideoError(f"{source.label}: {where}: the video ended before the frame at pts {chunk.end_pts}")


def _damaged(source: Source, where: str, exc: av.FFmpegError) -> VideoError:
    return VideoError(
        f"{source.label}: damaged video data in {where} ({error_reason(exc)}); a damaged file cannot be split "
        "across workers: run without --ray to interpolate what decodes"
    )


class _LosslessWriter:
    """Output frames in the output's pixel format, in memory: FFV1 in NUT where FFV1 holds the format,
    else the raw frames one after another (NUT would store yuvj420p as yuv420p)."""

    def __init__(self, pictures: OutputPictures, width: int, height: int, rate: Fraction):
        self.pictures, self.buffer, self.frames, self.picture_types = pictures, io.BytesIO(), 0, []
        ffv1 = pictures.pix_fmt in _FFV1_FORMATS
        self.container = av.open(self.buffer, "w", format="nut" if ffv1 else "rawvideo")
        self.stream = self.container.add_stream("ffv1" if ffv1 else "rawvideo", rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pictures.pix_fmt
        self.time_base = self.stream.codec_context.time_base = 1 / rate

    def write_ready(self, scheduler: Scheduler) -> None:
        for slot in scheduler.ready():
            picture = slot.pixels if slot.kind == "interpolated" else slot.frame.frame
            frame = self.pictures.frame(picture, self.frames, self.time_base)
            self.picture_types.append(int(frame.pict_type))  # FFV1 would make every frame an I-frame
            self.container.mux(self.stream.encode(frame))
            self.frames += 1

    def finish(self) -> bytes:
        self.container.mux(self.stream.encode(None))
        self.container.close()
        return self.buffer.getvalue()


def output_frames(video: bytes, pix_fmt: str, width: int, height: int) -> Iterator[av.VideoFrame]:
    """The frames of a ChunkResult's video, in order (`pix_fmt`: OutputPictures.pix_fmt)."""
    if pix_fmt in _FFV1_FORMATS:
        opened = av.open(io.BytesIO(video), format="nut")
    else:
        opened = av.open(io.BytesIO(video), format="rawvideo",
                         options={"pixel_format": pix_fmt, "video_size": f"{width}x{height}"})
    with opened as container:
        yield from container.decode(container.streams.video[0])
