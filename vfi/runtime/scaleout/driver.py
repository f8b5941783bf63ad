"""A video run split into chunks: planned, handed to a runner that interpolates them (in parallel,
on Ray's workers), joined in order into the output, which is renamed into place only on success."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av

from vfi.errors import VfiError
from vfi.fileio import replaced_on_success
from vfi.frames.images import DEFAULT_MAX_PIXELS
from vfi.runtime.scaleout.chunk import ChunkJob, ChunkResult
from vfi.runtime.scaleout.join import Joiner
from vfi.runtime.scaleout.plan import Chunk, boundaries, chunks, scan
from vfi.runtime.video.options import PIPE, VideoError, check_output_rate, rate_text
from vfi.runtime.video.schedule import output_time_base
from vfi.runtime.video.sink import EncoderOptions
from vfi.runtime.video.source import Decoded, Source, error_reason
from vfi.runtime.video.stages import check_video_options, expected_output_frames
from vfi.runtime.video.summary import VideoSummary


# A chunk's output frames travel back whole, through Ray's object store and the driver's memory:
# this bounds them, counted as raw 8-bit 4:4:4 (FFV1 takes about a third of that for 4:2:0, less
# for 10-bit): 172 output frames at 1080p, 1553 at 640×360.
CHUNK_BYTES = 2**30
CHUNKS_PER_WORKER = 4  # so that the last chunks, or a rerun, do not leave the other workers idle


def default_chunk_count(source: Source, output_frames: Fraction, workers: int) -> int:
    frame_bytes = source.width * source.height * 3
    return max(CHUNKS_PER_WORKER * workers, math.ceil(output_frames * frame_bytes / CHUNK_BYTES))


class ChunkRunner(Protocol):
    """Interpolates chunks somewhere (vfi.runtime.scaleout.cluster.RayRunner)."""

    model: str  # Interpolator.describe() and .path, as the workers report them
    path: str
    size: int  # workers

    def run(self, job: ChunkJob, plan: list[Chunk], expected: int | None) -> Iterator[tuple[Chunk, ChunkResult]]:
        """Every chunk's result, in chunk order; `expected`: the output frames, when the input says."""

    def report(self, summary: VideoSummary) -> None:
        """Adds what each worker did to the summary."""


def process_video_split(
    runner: ChunkRunner,
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    factor: int | None = None,
    fps: Fraction | str | None = None,
    encoder: EncoderOptions | None = None,
    chunk_count: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> VideoSummary:
    """Like vfi.runtime.video.process_video (the same output, frame for frame), with the video split
    into `chunk_count` chunks that `runner` interpolates (default: 4 per worker, and more where
    a chunk's output frames would exceed CHUNK_BYTES)."""
    input, output = str(input), str(output)
    if PIPE in (input, output):
        raise VfiError("a video split across workers is read from and written to files, not pipes")
    factor, target_rate, encoder = check_video_options(input, output, factor, fps, encoder)
    if chunk_count is not None and chunk_count < 1:
        raise VfiError(f"--chunks must be at least 1, got {chunk_count}")
    started = time.perf_counter()
    source = Source(input, max_pixels)
    try:
        rate = target_rate if target_rate is not None else factor * source.rate
        check_output_rate(source.label, source.rate, rate)
        packets = scan(input)
        splits = boundaries(packets, chunk_count or default_chunk_count(source, len(packets) * rate / source.rate, runner.size))
        first = _first_frame(source)
        summary = VideoSummary(
            input=input, output=output, model=runner.model, path=runner.path, input_rate=rate_text(source.rate),
            output_rate=rate_text(rate), width=source.width, height=source.height, pix_fmt=source.pix_fmt,
        )
        time_base = output_time_base(rate, source)
        plan = chunks(splits, first.time, rate, source.time_base)
        summary.chunks = len(plan)
        with replaced_on_success(output, f".partial{Path(output).suffix}") as temporary:
            joiner = Joiner(source, first, temporary, rate, time_base, encoder, summary, input)
            try:
                # absolute: a worker's working folder is not the driver's (on another machine, the
                # input must be at the same path there)
                job = ChunkJob(os.path.abspath(input), max_pixels, rate, first.time, joiner.sink.pictures)
                for chunk, result in runner.run(job, plan, expected_output_frames(source, rate)):
                    joiner.add(chunk, result)
                joiner.finish(result)
            finally:
                joiner.close()
        runner.report(summary)
        summary.damaged_input, summary.damage = source.damage(
            summary.decoded + summary.skipped_input, result.last_time + result.last_duration
        )
    finally:
        source.container.close()
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _first_frame(source: Source) -> Decoded:
    """The input's first frame, which fixes the output's start, colours and display matrix."""
    try:
        for frame in source.container.decode(source.stream):
            return source.decoded(frame, 0, None)
    except av.FFmpegError as exc:
        raise VideoError(f"{source.label}: its first video frame cannot be decoded ({error_reason(exc)})") from exc
    raise VideoError(f"{source.label}: no decodable video frames")
