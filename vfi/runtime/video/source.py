"""The input: opening a file or y4m on stdin, probing its video stream, decoding it frame by frame
(damage counted and skipped) and what its header announces."""

from __future__ import annotations

import math
import queue
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from vfi.frames.thumbnails import thumbnail
from vfi.frames.video_frames import check_pix_fmt, video_frame_rgb
from vfi.runtime.video.options import PIPE, Y4M, VideoError

if TYPE_CHECKING:
    from vfi.runtime.video.threads import Pipeline


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
                self.read_error = f"unreadable data after frame {index}: {error_reason(exc)}"
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
                self.read_error = self.read_error or f"undecodable video data after frame {index}: {error_reason(exc)}"
                continue
            for frame in frames:
                decoded = self.decoded(frame, index, last_time)
                pipeline.put(out, decoded)
                index, last_time = index + 1, decoded.time
            if packet is None:
                break
        pipeline.put(out, END)

    def decoded(self, frame: av.VideoFrame, index: int, last_time: Fraction | None) -> Decoded:
        """Decoded input frame `index`, converted; `last_time` is the previous frame's time."""
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
        return Decoded(index, time_, duration, pixels, thumbnail(pixels), frame)

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
        raise VideoError(f"{label}: not {what} ({error_reason(exc)})") from exc


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


def error_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
