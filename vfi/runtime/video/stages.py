"""process_video: the decode, interpolate and encode stages wired together, the temporary output
renamed on success."""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from contextlib import nullcontext
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from vfi.errors import VfiError
from vfi.fileio import raise_if_write_error, replaced_on_success
from vfi.frames.images import DEFAULT_MAX_PIXELS
from vfi.runtime.progress import Progress
from vfi.runtime.video.options import (
    MAX_FACTOR, PIPE, VideoError, check_output_path, check_output_rate, parse_rate, rate_text,
)
from vfi.runtime.video.schedule import Scheduler, output_time_base
from vfi.runtime.video.sink import CODECS, EncoderOptions, Sink, encoder_options
from vfi.runtime.video.source import END, Decoded, Source
from vfi.runtime.video.summary import VideoSummary
from vfi.runtime.video.threads import Interrupts, Pipeline, Stopped

if TYPE_CHECKING:  # the interpolator calls process_video; this package only holds one
    from vfi.runtime.interpolator import Interpolator

QUEUE_SIZE = 8  # items per queue: decoded frames (plus remuxed packets) and frames to encode


def process_video(
    interpolator: Interpolator,
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    factor: int | None = None,
    fps: Fraction | str | None = None,
    encoder: EncoderOptions | None = None,
    keep_partial: bool = False,
    progress: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> VideoSummary:
    """Interpolate `input` into `output` at `factor` × the input rate or at `fps` (default:
    factor 2); "-" reads or writes y4m on stdin / stdout. Returns the summary. Bad input or
    options raise a VfiError and leave nothing at `output`; an abort raises KeyboardInterrupt."""
    input, output = str(input), str(output)
    factor, target_rate, encoder = check_video_options(input, output, factor, fps, encoder)
    run = _Run(interpolator, input, output, encoder, keep_partial, progress)
    return run.execute(max_pixels, factor, target_rate)


def check_video_options(
    input: str, output: str, factor: int | None, fps: Fraction | str | None, encoder: EncoderOptions | None
) -> tuple[int | None, Fraction | None, EncoderOptions]:
    """The factor (default 2 when no fps is given), the target rate and the encoder options of a
    video run, checked before any work."""
    if factor is not None and fps is not None:
        raise VfiError("give a factor or a target fps, not both")
    if factor is None and fps is None:
        factor = 2
    if factor is not None and (int(factor) != factor or not 2 <= factor <= MAX_FACTOR):
        raise VfiError(f"--factor must be an integer from 2 to {MAX_FACTOR}, got {factor}")
    target_rate = parse_rate(str(fps)) if fps is not None else None
    encoder = encoder or EncoderOptions()
    if encoder.codec not in CODECS:
        raise VfiError(f"unknown codec {encoder.codec!r}; choose one of {', '.join(CODECS)}")
    if output != PIPE:
        encoder_options(encoder.codec, encoder)
        check_output_path(input, output)
    return factor, target_rate, encoder


class _Run:
    """One process_video call: owns the threads, the temporary file and the summary."""

    def __init__(self, interpolator, input: str, output: str, encoder: EncoderOptions, keep_partial: bool, progress: bool):
        self.interpolator, self.input, self.output, self.encoder = interpolator, input, output, encoder
        self.keep_partial, self.progress = keep_partial, progress
        self.summary = VideoSummary(
            input="stdin" if input == PIPE else input,
            output="stdout" if output == PIPE else output,
            model=interpolator.describe(),
            path=interpolator.path,
        )
        self.pipeline = Pipeline()
        self.decoded: queue.Queue = queue.Queue(QUEUE_SIZE)
        self.to_encode: queue.Queue = queue.Queue(QUEUE_SIZE)
        self.context = "before the first frame"

    def execute(self, max_pixels: int, factor: int | None, target_rate: Fraction | None) -> VideoSummary:
        started, inferences = time.perf_counter(), self.interpolator.inferences
        source = None
        threads: list[threading.Thread] = []
        try:
            with Interrupts(self.keep_partial, self.pipeline):
                source = Source(self.input, max_pixels)
                rate = target_rate if target_rate is not None else factor * source.rate
                check_output_rate(source.label, source.rate, rate)
                # The temporary output keeps the output's suffix, so the container format is the same.
                with (nullcontext() if self.output == PIPE
                      else replaced_on_success(self.output, f".partial{Path(self.output).suffix}")) as temporary:
                    self._stream(source, rate, temporary, threads)
        finally:
            self.pipeline.abort.set()
            for thread in threads:  # they stop within a poll interval (or a frame) once aborted
                thread.join(timeout=2)
            if source is not None and not any(thread.is_alive() for thread in threads):
                source.container.close()
        self.summary.inferences = self.interpolator.inferences - inferences
        self.summary.elapsed_s = time.perf_counter() - started
        return self.summary

    def _stream(self, source: Source, rate: Fraction, temporary: Path | None, threads: list) -> None:
        summary, pipeline = self.summary, self.pipeline
        summary.input_rate, summary.output_rate = rate_text(source.rate), rate_text(rate)
        summary.width, summary.height, summary.pix_fmt = source.width, source.height, source.pix_fmt
        time_base = output_time_base(rate, source)
        scheduler = Scheduler(self.interpolator, rate, source.rate, summary)
        expected = expected_output_frames(source, rate)
        threads.append(pipeline.thread("decode", source.decode, self.decoded, pipeline))
        first = last = None
        early_packets: list[av.Packet] = []
        dropped = 0
        with Progress(expected, enabled=self.progress) as meter:
            try:
                while (item := pipeline.get(self.decoded)) is not END:
                    if pipeline.stop_reading.is_set():  # Ctrl-C with keep_partial: drain, place no more
                        dropped += isinstance(item, Decoded)
                        continue
                    if isinstance(item, av.Packet):
                        if first is None:
                            early_packets.append(item)
                        else:
                            pipeline.put(self.to_encode, item)
                        continue
                    if first is None:
                        first = item
                        sink = Sink(str(temporary or PIPE), summary.output, source, first, rate, time_base, self.encoder, summary)
                        threads.append(pipeline.thread("encode", _encode, sink, self.to_encode, pipeline))
                        for packet in early_packets:
                            pipeline.put(self.to_encode, packet)
                    self.context = f"at input frame {item.index} ({float(item.time):.3f} s)"
                    last = item
                    scheduler.add(item)
                    self._emit(scheduler, time_base, meter)
                if first is None:
                    if pipeline.stop_reading.is_set():
                        raise KeyboardInterrupt  # Ctrl-C before the first frame: nothing to keep
                    raise VideoError(f"{source.label}: no decodable video frames")
                summary.partial = pipeline.stop_reading.is_set() and (dropped > 0 or not source.reached_end)
                if not summary.partial:
                    summary.damaged_input, summary.damage = source.damage(
                        summary.decoded + summary.skipped_input, last.time + last.duration
                    )
                scheduler.finish()
                self._emit(scheduler, time_base, meter)
                shown = scheduler.time(scheduler.next_index - 1)
                end = shown + 1 / rate if summary.partial else last.time + last.duration
                pipeline.put(self.to_encode, (END, round((end - shown) / time_base)))
                summary.input_duration_s = float(last.time + last.duration - first.time)
                summary.output_duration_s = float(end - first.time)
                for thread in threads:
                    pipeline.join(thread)
            except Stopped:
                pass
            pipeline.raise_failure(f"{self.input} → {self.output}, {self.context}")

    def _emit(self, scheduler: Scheduler, time_base: Fraction, meter: Progress) -> None:
        for slot in scheduler.ready():
            picture = slot.pixels if slot.kind == "interpolated" else slot.frame.frame
            self.pipeline.put(self.to_encode, (round(scheduler.time(slot.index) / time_base), picture))
            meter.update(self.summary.expected)


def expected_output_frames(source: Source, rate: Fraction) -> int | None:
    """The output frames of `source` at `rate`, when its header announces its frames (for progress)."""
    return math.floor((source.frames - 1) * rate / source.rate) + 1 if source.frames else None


def _encode(sink: Sink, items: queue.Queue, pipeline: Pipeline) -> None:
    finished = False
    try:
        while True:
            item = pipeline.get(items)
            if isinstance(item, av.Packet):
                sink.packet(item)
            elif item[0] is END:
                sink.finish(item[1])
                finished = True
                return
            else:
                sink.write(*item)
    except OSError as exc:  # PyAV's I/O errors are OSErrors too
        raise_if_write_error(Path(sink.label), exc)
        raise
    finally:
        if not finished:
            sink.abandon()

