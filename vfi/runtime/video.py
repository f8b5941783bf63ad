"""`vfi interpolate` on video: decode → interpolate → encode, streaming, exact to the frame.

Pipeline. A decode thread demuxes and decodes with PyAV into a bounded queue; the calling thread
schedules output frames and runs the model on batches; an encode thread encodes and muxes from a
second bounded queue. Full queues block the stage before them (backpressure, never dropping). An
exception in any stage stops all three and is re-raised in the caller with a note naming the stage
and input frame; errors about the user's files are VfiErrors naming the file.

Timing. Times are exact Fractions of seconds from the input's time base. Output frame k is at
start + k / rate, where start is the first input frame's time and rate the output rate
(`factor` × the input's average rate, or `fps`), for every such time up to the last input frame's
time: N input frames at factor f give exactly f·(N−1)+1 frames. An output time between input
frames i and i+1 is interpolated at t = (T − T_i) / (T_{i+1} − T_i), so variable-frame-rate input
becomes constant-rate output interpolated at the output timestamps. The last output frame lasts
until the end of the input's last frame, so the output's duration equals the input's and audio
stays in sync. The output stream's time base is fine enough to hold every one of these times.

Pixels. Frames are converted to RGB (16-bit RGB when the input has more than 8 bits per component,
e.g. 10-bit; 8-bit otherwise), interpolated in float32 in [0, 1], rounded to the output's bit
depth and converted with the input's colour matrix and range. The output pixel format defaults to
the input's when the encoder supports it (so 10-bit stays 10-bit), else yuv420p (yuv420p10le for
deep input). Input frames that are output unchanged (t = 0, repeats at scene cuts) are passed to
the encoder as decoded, not through RGB. Formats with alpha and raw Bayer input are refused rather
than silently flattened.

Other streams. Audio and subtitle streams are copied packet for packet, timestamps untouched. A
rotation (display matrix) is copied to the output stream, so the pixels are never rotated — except
for y4m output, which cannot carry it: there it is applied to the pixels, once.

Safety. The output is written to a temporary file in the output's folder and renamed over the
output only on success; any failure, Ctrl-C or SIGTERM removes it. With keep_partial, the first signal
finishes the current batch and finalises a valid shorter file (the second aborts). The summary
counts every frame; `VideoSummary.lost` is nonzero when an output frame was not written, an input
frame could not be placed in time, or input frames were lost to damage: a damaged or truncated
input is decoded as far as it goes (rejected packets skipped) and the frames missing are counted
from what its header announces (a frame count, Matroska's end time, or a y4m file's size).
Output rates are at most MAX_FACTOR × the input's.
"""

from __future__ import annotations

import math
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from vfi.errors import VfiError
from vfi.fileio import raise_if_write_error, temporary_sibling
from vfi.frames.images import DEFAULT_MAX_PIXELS, to_integer
from vfi.frames.thumbnails import thumbnail
from vfi.frames.video_frames import check_pix_fmt, swscale_flags, video_frame_rgb
from vfi.runtime.progress import Progress
from vfi.runtime.timesteps import Request, bisection_depth, is_scene_cut, nearest_dyadic

if TYPE_CHECKING:  # the interpolator calls process_video; this module only holds one
    from vfi.runtime.interpolator import Interpolator

PIPE = "-"
Y4M = "yuv4mpegpipe"
# Encoders and their default (CRF, preset); ffv1 is lossless. libx264's preset is veryfast, not
# its own medium: at 640x360 medium costs 9.1 ms of CPU per frame, veryfast 3.4 ms for a 4 % larger
# file (car-turn.mp4 at CRF 18), and encoding should not cost more than interpolating.
CODECS = {"libx264": (18, "veryfast"), "libx265": (20, None), "libsvtav1": (30, None), "ffv1": (None, None)}
# The CRF ranges and presets each encoder accepts (checked here: the encoders report a bad value in
# their own log lines, after the output was opened).
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libsvtav1": (1, 63)}
PRESETS = {"libx264": _X26X_PRESETS, "libx265": _X26X_PRESETS, "libsvtav1": tuple(str(p) for p in range(14))}
DEFAULT_CODEC = "libx264"
# Pixel formats y4m can carry, for pipe output.
Y4M_PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p", "gray", "yuv420p10le", "yuv422p10le", "yuv444p10le", "gray10le")
# The output rate is at most this many times the input's: beyond it a short clip becomes millions
# of frames (slow motion needs 8-32×).
MAX_FACTOR = 256
QUEUE_SIZE = 8  # items per queue: decoded frames (plus remuxed packets) and frames to encode
_POLL_S = 0.1
_HELD_PACKETS = 64
_MAX_TIME_BASE = 2**31 - 1  # containers store time bases as 32-bit integers


class VideoError(VfiError):
    """A video that cannot be read or written, named in the message."""


@dataclass
class EncoderOptions:
    codec: str = DEFAULT_CODEC
    crf: int | None = None  # default: CODECS[codec][0]
    bitrate: int | None = None  # bits per second, instead of CRF
    pix_fmt: str | None = None  # default: see the module docstring
    preset: str | None = None  # default: CODECS[codec][1], else the encoder's own


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
        )


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f} s"


def parse_rate(text: str, option: str = "--fps") -> Fraction:
    """A frame rate from "60", "59.94" or "60000/1001" (exact)."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise VfiError(f"{option}: not a frame rate: {text!r} (examples: 60, 50, 60000/1001)") from None
    if rate <= 0:
        raise VfiError(f"{option}: the frame rate must be positive, got {text}")
    if not storable_rate(rate):
        raise VfiError(f"{option}: {text} cannot be stored in a video file (a fraction of integers below 2^31)")
    return rate


def storable_rate(rate: Fraction) -> bool:
    """Whether containers can hold `rate`: their time bases are 32-bit integer fractions."""
    return rate.numerator <= _MAX_TIME_BASE and rate.denominator <= _MAX_TIME_BASE


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """A frame size (width, height) from "WxH", e.g. "1280x720"."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise VfiError(f"{option}: expected WxH such as 1280x720, got {text!r}") from None
    if width < 1 or height < 1:
        raise VfiError(f"{option}: the width and height must be positive, got {text}")
    return width, height


# -- input ------------------------------------------------------------------------------------


@dataclass
class Decoded:
    """One decoded input frame."""

    index: int
    time: Fraction  # seconds
    duration: Fraction  # seconds
    pixels: np.ndarray  # float32 RGB [3, H, W] in [0, 1]
    thumb: np.ndarray
    frame: av.VideoFrame  # as decoded, for frames output unchanged


END = object()


class Source:
    """An opened input: its container, video stream and the streams copied to the output."""

    def __init__(self, path: str, max_pixels: int):
        self.label = "stdin" if path == PIPE else path
        self.container, y4m_header = _open_input(path, self.label, max_pixels)
        try:
            self._probe(max_pixels)
        except BaseException:
            self.container.close()
            raise
        # A y4m file's frames all have the same size, so its size announces their number (once the
        # first frame's size is known): FFmpeg ends a y4m input at a cut frame without an error.
        self.y4m_body = Path(path).stat().st_size - y4m_header if y4m_header else None

    def _probe(self, max_pixels: int) -> None:
        if not self.container.streams:
            raise VideoError(f"{self.label}: not a readable video (no streams found: truncated, or not a video file)")
        if not self.container.streams.video:
            raise VideoError(f"{self.label}: no video stream ({', '.join(s.type for s in self.container.streams)})")
        self.stream = self.container.streams.video[0]
        context = self.stream.codec_context
        if context is None:
            raise VideoError(f"{self.label}: its video stream cannot be decoded (unknown codec: damaged or unsupported file)")
        self.stream.thread_type = "AUTO"
        self.remux = [s for s in self.container.streams if s.type in ("audio", "subtitle")]
        self.width, self.height = context.width, context.height
        if self.width * self.height > max_pixels:
            raise VideoError(f"{self.label}: {self.width}x{self.height} frames exceed the limit of {max_pixels} pixels (--max-pixels)")
        self.pix_fmt = context.pix_fmt
        if self.pix_fmt is None:
            raise VideoError(f"{self.label}: cannot tell the pixel format of its {context.name} video; the file may be damaged")
        self.bits = check_pix_fmt(self.label, self.pix_fmt)
        self.deep = self.bits > 8
        self.rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        if not self.rate:
            raise VideoError(f"{self.label}: the video has no frame rate; give the output rate with --fps")
        self.rate = Fraction(self.rate)
        self.time_base = Fraction(self.stream.time_base)
        self.frames = self.stream.frames  # 0 when the container does not say
        self.declared_end = self._declared_end()  # seconds, when the container says exactly
        self.reached_end = False  # set by decode() when it read the whole file
        self.undecodable = 0  # video packets the decoder rejected
        self.read_error: str | None = None  # why reading stopped before the end of the file

    def _declared_end(self) -> Fraction | None:
        """Where the video stream ends, from Matroska's DURATION tag (HH:MM:SS.fraction, from time
        zero as FFmpeg writes it). Other containers' durations may be estimates (MPEG-TS from the
        bit rate), and those that count frames (MP4) announce the count."""
        tag = self.stream.metadata.get("DURATION", "")
        hours, minutes, seconds = (tag.split(":") + ["", "", ""])[:3]
        try:
            return int(hours) * 3600 + int(minutes) * 60 + Fraction(seconds)
        except (ValueError, ZeroDivisionError):
            return None

    def decode(self, out: queue.Queue, pipeline: Pipeline) -> None:
        """Decode every video frame into `out` (remuxed packets in between, in file order), then END.
        The container stays open until its packets are muxed: they refer to its streams.
        Damage does not stop it: a packet the decoder rejects is counted (`undecodable`) and skipped,
        and unreadable container data ends the input there (`read_error`)."""
        index, last_time = 0, None
        packets = self.container.demux([self.stream, *self.remux])
        while not pipeline.stop_reading.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                self.reached_end = True
                break
            except av.FFmpegError as exc:
                self.read_error = f"unreadable data after frame {index}: {_reason(exc)}"
                packet = None  # flush the frames the decoder still holds
            if packet is not None and packet.stream is not self.stream:
                if packet.dts is not None:
                    pipeline.put(out, packet)
                continue
            if self.y4m_body and packet is not None and not self.frames:
                self.frames = -(-self.y4m_body // (len(_Y4M_FRAME) + packet.size))
            try:
                frames = self.stream.decode(packet)
            except av.FFmpegError as exc:
                self.undecodable += 1
                self.read_error = self.read_error or f"undecodable video data after frame {index}: {_reason(exc)}"
                continue
            for frame in frames:
                if (frame.width, frame.height) != (self.width, self.height) or frame.format.name != self.pix_fmt:
                    raise VideoError(
                        f"{self.label}: frame {index} is {frame.width}x{frame.height} {frame.format.name}, "
                        f"the stream started as {self.width}x{self.height} {self.pix_fmt}; "
                        "a video whose format changes midway is not supported"
                    )
                if frame.pts is not None:
                    time_ = frame.pts * self.time_base
                else:  # raw streams without timestamps: frames at the nominal rate
                    time_ = last_time + 1 / self.rate if last_time is not None else Fraction(0)
                duration = frame.duration * self.time_base if frame.duration else 1 / self.rate
                pixels = video_frame_rgb(frame, self.bits)
                pipeline.put(out, Decoded(index, time_, duration, pixels, thumbnail(pixels), frame))
                index, last_time = index + 1, time_
            if packet is None:
                break
        pipeline.put(out, END)

    def damage(self, placed: int, end: Fraction) -> tuple[int, str]:
        """Input frames lost to damage, and what happened, given that `placed` frames ending at
        `end` seconds were decoded: as many as the header announces beyond them (a frame count,
        else an end time at the nominal rate), at least one per rejected packet, and at least one
        when reading stopped early."""
        if self.frames:
            announced = self.frames - placed
            read = f"{placed} frames read of the {self.frames} its header announces"
        elif self.declared_end is not None:
            announced = math.floor((self.declared_end - end) * self.rate + Fraction(1, 2))
            read = f"frames read up to {float(end):.3f} s of the {float(self.declared_end):.3f} s its header announces"
        else:
            announced, read = 0, f"{placed} frames read"
        lost = max(announced, self.undecodable, 1 if self.read_error else 0)
        return lost, f"{read}; {self.read_error or 'the file ends early'}" if lost else ""


def _open_input(path: str, label: str, max_pixels: int) -> tuple[av.container.InputContainer, int]:
    """The opened input, and the length of its y4m header when it is a y4m file (else 0)."""
    try:
        if path == PIPE:
            header = sys.stdin.buffer.readline(_Y4M_HEADER_LIMIT)
            check_y4m_header(label, header, max_pixels)
            return av.open(_Replayed(header, sys.stdin.buffer), format=Y4M), 0
        if Path(path).is_dir():
            raise VideoError(f"{path}: is a folder, not a video")
        with open(path, "rb") as file:
            head = file.read(_Y4M_HEADER_LIMIT)
        if not head:
            raise VideoError(f"{path}: empty file")
        y4m_header = check_y4m_header(label, head, max_pixels) if head.startswith(Y4M_MAGIC) else 0
        return av.open(path), y4m_header
    except FileNotFoundError:
        raise VideoError(f"{path}: no such file") from None
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        what = "a y4m stream" if path == PIPE else "a readable video"
        raise VideoError(f"{label}: not {what} ({_reason(exc)})") from exc


Y4M_MAGIC = b"YUV4MPEG2 "
_Y4M_HEADER_LIMIT = 4096


def check_y4m_header(label: str, data: bytes, max_pixels: int) -> int:
    """The length of the y4m header that starts `data` (its first line); refuses one that lacks
    a valid size or rate (FFmpeg would guess 25 fps), or whose frames exceed `max_pixels`, before
    any frame is read."""
    line, newline, _ = data.partition(b"\n")
    if not line.startswith(Y4M_MAGIC):
        raise VideoError(f"{label}: not a y4m stream (it does not start with {Y4M_MAGIC.decode().strip()})")
    if not newline:
        raise VideoError(f"{label}: y4m header without an end of line in its first {_Y4M_HEADER_LIMIT} bytes")
    fields = {token[:1]: token[1:] for token in line.decode("ascii", errors="replace").split()[1:]}
    for key, what in (("W", "width"), ("H", "height")):
        if not fields.get(key, "").isdigit() or int(fields[key]) < 1:
            raise VideoError(f"{label}: y4m header gives no valid {what} ({key}{fields.get(key, ' missing')})")
    numerator, _, denominator = fields.get("F", "").partition(":")
    if not (numerator.isdigit() and denominator.isdigit() and int(numerator) > 0 and int(denominator) > 0):
        raise VideoError(f"{label}: y4m header gives no valid frame rate (F{fields.get('F', ' missing')}; e.g. F30000:1001)")
    width, height = int(fields["W"]), int(fields["H"])
    if width * height > max_pixels:
        raise VideoError(f"{label}: {width}x{height} frames exceed the limit of {max_pixels} pixels (--max-pixels)")
    return len(line) + len(newline)


_Y4M_FRAME = b"FRAME\n"


class _Replayed:
    """A stream read again from its start after `head` was read from it: stdin cannot seek."""

    def __init__(self, head: bytes, stream):
        self.head, self.stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(size)
        size = len(self.head) if size < 0 else size
        chunk, self.head = self.head[:size], self.head[size:]
        return chunk


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# -- output -----------------------------------------------------------------------------------


class Sink:
    """The output container: the interpolated video stream and the copied streams."""

    def __init__(self, target: str, label: str, source: Source, first: Decoded, rate: Fraction,
                 time_base: Fraction, options: EncoderOptions, summary: VideoSummary):
        self.label, self.summary = label, summary
        self.pipe = target == PIPE
        try:
            self.container = av.open(sys.stdout.buffer, "w", format=Y4M) if self.pipe else av.open(target, "w")
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoError(f"{label}: cannot write this kind of file ({_reason(exc)}); use e.g. .mp4, .mkv or .mov") from exc
        try:
            self._add_streams(source, first.frame, rate, time_base, options)
        except BaseException:
            self.container.close()
            raise
        self.frame_ticks = round(1 / rate / time_base)
        # The last video packets are held back, so that at the end the last in display order and
        # the last in decoding order (which together end the stream in the container: MP4's edit
        # list and sample table) can last until the end of the input; reordering (B-frames) spans
        # far fewer packets than this.
        self.held: deque[av.Packet] = deque()

    def _add_streams(self, source: Source, first: av.VideoFrame, rate, time_base, options: EncoderOptions) -> None:
        codec = "rawvideo" if self.pipe else options.codec
        self.pix_fmt = choose_pix_fmt(self.label, codec, options.pix_fmt, source.pix_fmt, source.deep)
        self.bits = source.bits
        matrix = display_matrix(first)
        self.rotation = (first.rotation // 90) % 4 if self.pipe else 0
        if self.pipe and matrix is not None and (first.rotation % 90 or matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0):
            raise VideoError(
                f"{source.label}: its display matrix (a {first.rotation}° rotation, or a mirroring) cannot be applied "
                "to y4m output, which has no such metadata; write to a file instead"
            )
        width, height = (source.height, source.width) if self.rotation % 2 else (source.width, source.height)
        check_even(self.label, self.pix_fmt, width, height)
        try:
            stream = self.container.add_stream(codec, rate=rate)
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(
                f"{self.label}: cannot write {codec} video to this kind of file ({_reason(exc)}); use e.g. .mp4, .mkv or .mov"
            ) from exc
        stream.width, stream.height, stream.pix_fmt = width, height, self.pix_fmt
        stream.time_base = stream.codec_context.time_base = time_base
        context = stream.codec_context
        self.colorspace, self.color_range = first.colorspace, first.color_range
        context.colorspace, context.color_range = first.colorspace, first.color_range
        context.color_primaries, context.color_trc = first.color_primaries, first.color_trc
        if not self.pipe:
            stream.options = encoder_options(codec, options)
            if options.bitrate:
                context.bit_rate = options.bitrate
            if matrix is not None:
                stream.set_display_matrix(matrix)
        self.video = stream
        self.deep_output = av.VideoFormat(self.pix_fmt).components[0].bits > 8
        self.streams = {}
        for template in source.remux:
            name = f"#{template.index} {template.type} {template.codec_context.name}"
            if self.pipe:
                self.summary.dropped_streams.append(f"{name} (y4m carries video only)")
                continue
            try:
                self.streams[template.index] = self.container.add_stream_from_template(template)
            except (av.FFmpegError, ValueError) as exc:
                raise VideoError(f"{self.label}: this container cannot hold the input's {name} stream ({_reason(exc)})") from exc
            self.summary.remuxed_streams.append(name)
        try:
            self.container.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"{self.label}: cannot start encoding {codec} {self.pix_fmt} {width}x{height} ({_reason(exc)})") from exc

    def write(self, pts: int, picture) -> None:
        """Encode one output frame (an av.VideoFrame as decoded, or float RGB [3, H, W]) at `pts`."""
        frame = self._video_frame(picture)
        frame.pts, frame.time_base = pts, self.video.codec_context.time_base  # not the input's time base
        self._mux(self.video.encode(frame))

    def packet(self, packet: av.Packet) -> None:
        stream = self.streams.get(packet.stream.index)
        if stream is not None:
            packet.stream = stream
            self.container.mux(packet)

    def finish(self, final_ticks: int) -> None:
        """Flush the encoder; the last packet lasts `final_ticks`; close the file."""
        self._mux(self.video.encode(None))
        if self.held:
            self.held[-1].duration = max(self.held, key=lambda p: p.pts).duration = final_ticks
        for packet in self.held:
            self.container.mux(packet)
        self.container.close()

    def _mux(self, packets) -> None:
        for packet in packets:
            packet.duration = self.frame_ticks
            self.held.append(packet)
            if len(self.held) > _HELD_PACKETS:
                self.container.mux(self.held.popleft())
            self.summary.written += 1

    def _video_frame(self, picture) -> av.VideoFrame:
        if isinstance(picture, av.VideoFrame) and not self.rotation:
            if picture.format.name == self.pix_fmt:
                return picture
            return picture.reformat(
                format=self.pix_fmt, src_color_range=picture.color_range, dst_color_range=picture.color_range,
                interpolation=swscale_flags(),
            )
        if isinstance(picture, av.VideoFrame):  # y4m with a rotation: through RGB like the others
            picture = video_frame_rgb(picture, self.bits)
        dtype, work_format = (np.uint16, "rgb48le") if self.deep_output else (np.uint8, "rgb24")
        rgb = np.rot90(to_integer(picture, dtype).transpose(1, 2, 0), self.rotation)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=work_format)
        return frame.reformat(
            format=self.pix_fmt, dst_colorspace=self.colorspace, dst_color_range=self.color_range,
            interpolation=swscale_flags(),
        )

    def abandon(self) -> None:
        try:
            self.container.close()
        except Exception:  # the file is being discarded; its trailer does not matter
            pass


def choose_pix_fmt(label: str, codec: str, requested: str | None, input_fmt: str, deep: bool) -> str:
    supported = Y4M_PIX_FMTS if codec == "rawvideo" else [f.name for f in av.Codec(codec, "w").video_formats or ()]
    if requested is not None:
        if requested not in supported:
            raise VideoError(f"{label}: {codec} cannot encode pixel format {requested}; it supports {', '.join(supported)}")
        return requested
    if input_fmt in supported:
        return input_fmt
    for candidate in (("yuv420p10le",) if deep else ()) + ("yuv420p",):
        if candidate in supported:
            return candidate
    return supported[0]


def check_even(label: str, pix_fmt: str, width: int, height: int) -> None:
    chroma = av.VideoFormat(pix_fmt, 2, 2).components
    if len(chroma) > 1 and ((chroma[1].width < 2 and width % 2) or (chroma[1].height < 2 and height % 2)):
        raise VideoError(
            f"{label}: {pix_fmt} subsamples chroma and cannot hold {width}x{height} frames; "
            "use --pix-fmt yuv444p (or --codec ffv1)"
        )


def encoder_options(codec: str, options: EncoderOptions) -> dict[str, str]:
    default_crf, default_preset = CODECS[codec]
    if default_crf is None:
        if options.crf is not None or options.bitrate is not None or options.preset is not None:
            raise VfiError(f"{codec} is lossless: --crf, --bitrate and --preset do not apply")
        return {}
    if options.crf is not None and options.bitrate is not None:
        raise VfiError("give --crf or --bitrate, not both")
    low, high = CRF_RANGES[codec]
    if options.crf is not None and not low <= options.crf <= high:
        raise VfiError(f"--crf {options.crf}: {codec} takes {low} to {high}")
    if options.preset is not None and options.preset not in PRESETS[codec]:
        raise VfiError(f"--preset {options.preset}: {codec} takes {', '.join(PRESETS[codec])}")
    result = {} if options.bitrate else {"crf": str(default_crf if options.crf is None else options.crf)}
    if options.preset or default_preset:
        result["preset"] = options.preset or default_preset
    if codec == "libx265":
        result["x265-params"] = "log-level=error"
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 reads its log level from here; 1 = errors only
    return result


def display_matrix(frame: av.VideoFrame) -> list[int] | None:
    for side_data in frame.side_data:
        if side_data.type == av.sidedata.sidedata.Type.DISPLAYMATRIX:
            return np.frombuffer(bytes(side_data), np.int32).tolist()
    return None


def output_time_base(rate: Fraction, source: Source) -> Fraction:
    """The coarsest time base holding every output time: multiples of 1/rate from a start and to
    an end that are multiples of the input's time base (and of 1/input rate)."""
    ticks = math.lcm(rate.numerator, source.time_base.denominator, source.rate.numerator)
    return Fraction(1, ticks if ticks <= _MAX_TIME_BASE else rate.numerator)


# -- scheduling -------------------------------------------------------------------------------


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
        """The output frames that can be encoded now, in order."""
        while self.slots and (self.slots[0].kind != "interpolated" or self.slots[0].pixels is not None):
            yield self.slots.popleft()


# -- the pipeline -----------------------------------------------------------------------------


class _Stopped(Exception):
    """Raised in a stage when another stage failed or the run was aborted."""


class Pipeline:
    def __init__(self):
        self.abort = threading.Event()  # every stage stops now
        self.stop_reading = threading.Event()  # the decoder stops (Ctrl-C with keep_partial)
        self.failure: tuple[str, BaseException] | None = None

    def fail(self, stage: str, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = (stage, exc)
        self.abort.set()

    def put(self, q: queue.Queue, item) -> None:
        while not self.abort.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                pass
        raise _Stopped

    def get(self, q: queue.Queue):
        while not self.abort.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                pass
        raise _Stopped

    def thread(self, stage: str, target, *args) -> threading.Thread:
        def run():
            try:
                target(*args)
            except _Stopped:
                pass
            except BaseException as exc:
                self.fail(stage, exc)

        thread = threading.Thread(target=run, name=f"vfi-{stage}", daemon=True)
        thread.start()
        return thread

    def join(self, thread: threading.Thread | None) -> None:
        while thread is not None and thread.is_alive():
            thread.join(_POLL_S)  # in slices, so Ctrl-C reaches the main thread

    def raise_failure(self, context: str) -> None:
        if self.failure is not None:
            stage, exc = self.failure
            if not isinstance(exc, VfiError):
                exc.add_note(f"vfi interpolate: in the {stage} stage; {context}")
            raise exc


class _Interrupts:
    """Ctrl-C (SIGINT) or SIGTERM: with keep_partial, the first one asks for a shorter file and
    the second aborts; without, the first aborts."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, keep_partial: bool, pipeline: Pipeline):
        self.keep_partial, self.pipeline, self.count = keep_partial, pipeline, 0
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        self.count += 1
        if self.keep_partial and self.count == 1:
            print("\nvfi: finishing the current frames and writing a shorter file; Ctrl-C again aborts", file=sys.stderr)
            self.pipeline.stop_reading.set()
            return
        raise KeyboardInterrupt


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
        encoder_options(encoder.codec, encoder)  # option errors before any work
        _check_output_path(input, output)
    run = _Run(interpolator, input, output, encoder, keep_partial, progress)
    return run.execute(max_pixels, factor, target_rate)


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
        temporary = source = None
        threads: list[threading.Thread] = []
        success = False
        try:
            with _Interrupts(self.keep_partial, self.pipeline):
                source = Source(self.input, max_pixels)
                rate = target_rate if target_rate is not None else factor * source.rate
                _check_output_rate(source, rate)
                if self.output != PIPE:
                    temporary = _temporary_path(Path(self.output))
                self._stream(source, rate, temporary, threads)
            if temporary is not None:
                os.replace(temporary, self.output)
            success = True
        finally:
            self.pipeline.abort.set()
            if not success and temporary is not None:
                temporary.unlink(missing_ok=True)
            for thread in threads:  # they stop within a poll interval (or a frame) once aborted
                thread.join(timeout=2)
            if source is not None and not any(thread.is_alive() for thread in threads):
                source.container.close()
        self.summary.inferences = self.interpolator.inferences - inferences
        self.summary.elapsed_s = time.perf_counter() - started
        return self.summary

    def _stream(self, source: Source, rate: Fraction, temporary: Path | None, threads: list) -> None:
        summary, pipeline = self.summary, self.pipeline
        summary.input_rate, summary.output_rate = _rate_text(source.rate), _rate_text(rate)
        summary.width, summary.height, summary.pix_fmt = source.width, source.height, source.pix_fmt
        time_base = output_time_base(rate, source)
        scheduler = Scheduler(self.interpolator, rate, source.rate, summary)
        expected = math.floor((source.frames - 1) * rate / source.rate) + 1 if source.frames else None
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
            except _Stopped:
                pass
            pipeline.raise_failure(f"{self.input} → {self.output}, {self.context}")

    def _emit(self, scheduler: Scheduler, time_base: Fraction, meter: Progress) -> None:
        for slot in scheduler.ready():
            setattr(self.summary, slot.kind, getattr(self.summary, slot.kind) + 1)
            self.summary.expected += 1
            picture = slot.pixels if slot.kind == "interpolated" else slot.frame.frame
            self.pipeline.put(self.to_encode, (round(scheduler.time(slot.index) / time_base), picture))
            meter.update(self.summary.expected)


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


def _check_output_rate(source: Source, rate: Fraction) -> None:
    if rate > MAX_FACTOR * source.rate:
        raise VideoError(
            f"{source.label}: --fps {_rate_text(rate)} is more than {MAX_FACTOR}× its {_rate_text(source.rate)} fps"
        )
    if not storable_rate(rate):
        raise VideoError(
            f"{source.label}: the output rate {rate} fps (from its {_rate_text(source.rate)} fps) cannot be stored "
            "in a video file (a fraction of integers below 2^31)"
        )


def _check_output_path(input: str, output: str) -> None:
    path = Path(output)
    if not path.parent.is_dir():
        raise VfiError(f"{output}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise VfiError(f"{output}: is a folder; give a file name")
    if input != PIPE and path.exists() and Path(input).exists() and path.samefile(input):
        raise VfiError(f"{output}: is the input file; write to another file")


def _temporary_path(output: Path) -> Path:
    """A new empty file beside `output`, keeping its suffix so the container format is the same."""
    return temporary_sibling(output, f".partial{output.suffix}")


def _rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator} ({float(rate):.3f})"
