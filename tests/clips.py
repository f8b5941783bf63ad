"""Synthetic clips for the runtime tests, written and read back with PyAV."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vfi.frames.video_frames import swscale_flags

AUDIO_RATE = 48000
# libx264 with B-frames (decoding order differs from display order) and a keyframe every 10 frames
KEYFRAMES_EVERY_10 = {"g": "10", "keyint_min": "10", "sc_threshold": "0", "bf": "2"}


def flat(value: int, height: int = 48, width: int = 64, dtype=np.uint8) -> np.ndarray:
    return np.full((height, width, 3), value, dtype)


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    *,
    rate: Fraction = Fraction(25),
    times: list[Fraction] | None = None,
    codec: str = "ffv1",
    pix_fmt: str = "yuv420p",
    audio_seconds: float | None = None,
    rotation: int | None = None,
    subtitles: list[tuple[str, Fraction, Fraction]] = (),
    options: dict | None = None,
    container_options: dict | None = None,
) -> Path:
    """Write `frames` (HxWx3 uint8 or uint16 RGB) at `rate`, or at `times` (seconds; variable
    rate), optionally with an AAC sine track of `audio_seconds`, a display rotation and SubRip
    `subtitles` (text, start and duration in seconds; Matroska)."""
    time_base = Fraction(1, 90000) if times is not None else 1 / rate
    with av.open(str(path), "w", options=container_options or {}) as out:
        video = out.add_stream(codec, rate=rate)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = pix_fmt
        video.time_base = video.codec_context.time_base = time_base
        video.options = options or {}
        if rotation is not None:
            video.set_display_rotation(rotation)
        audio = None
        if audio_seconds is not None:  # every stream is added before the first packet is muxed
            audio = out.add_stream("aac", rate=AUDIO_RATE)
            audio.layout = "stereo"
        if subtitles:
            text = out.add_mux_stream("subrip", time_base=Fraction(1, 1000))
            for line, start, duration in subtitles:
                packet = av.Packet(line.encode())
                packet.stream, packet.time_base = text, Fraction(1, 1000)
                packet.pts = packet.dts = int(start * 1000)
                packet.duration = int(duration * 1000)
                out.mux(packet)
        for i, pixels in enumerate(frames):
            source = "rgb48le" if pixels.dtype == np.uint16 else "rgb24"
            frame = av.VideoFrame.from_ndarray(pixels, format=source).reformat(format=pix_fmt, interpolation=swscale_flags())
            frame.pts = i if times is None else int(times[i] / time_base)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if audio is not None:
            total = int(audio_seconds * AUDIO_RATE)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(total) / AUDIO_RATE)).astype(np.float32)
            for start in range(0, total, 1024):
                chunk = tone[start : start + 1024]
                frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = AUDIO_RATE, start
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
    return path


@dataclass
class Clip:
    frames: list[np.ndarray]  # RGB HxWx3 as decoded (uint8, or uint16 with deep=True)
    times: list[Fraction]  # presentation times in seconds
    stream: dict  # facts about the video stream


def read_clip(path: Path, deep: bool = False) -> Clip:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times, rotation = [], [], None
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(
                format="rgb48le" if deep else "rgb24", src_color_range=frame.color_range, interpolation=swscale_flags()
            ))
            times.append(frame.pts * stream.time_base)
            rotation = frame.rotation if rotation is None else rotation
        facts = {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "pix_fmt": stream.codec_context.pix_fmt,
            "codec": stream.codec_context.name,
            "base_rate": stream.base_rate,
            "duration": stream.duration * stream.time_base if stream.duration else None,
            "rotation": rotation,
            "streams": [s.type for s in container.streams],
        }
    return Clip(frames, times, facts)


def audio_facts(path: Path) -> dict:
    """Samples decoded, and the stream's start and duration in seconds, of the first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return {
            "samples": samples,
            "start": stream.start_time * stream.time_base,
            "duration": stream.duration * stream.time_base,
            "codec": stream.codec_context.name,
        }


def level(frame: np.ndarray) -> float:
    """The mean level of a frame, for flat synthetic frames."""
    return float(frame.astype(np.float64).mean())


def decoded(path: Path) -> dict:
    """Every stream's content: video frames (time, pixels) and other streams' packets (time, bytes)."""
    with av.open(str(path)) as container:
        video = [(f.pts * f.time_base, f.to_ndarray()) for f in container.decode(container.streams.video[0])]
    with av.open(str(path)) as container:
        others = [(p.stream.index, p.pts, bytes(p)) for p in container.demux() if p.stream.type != "video" and p.size]
    return {"video": video, "others": others}


def assert_same_output(single: Path, split: Path) -> None:
    a, b = decoded(single), decoded(split)
    assert len(a["video"]) == len(b["video"])
    for k, ((time_a, pixels_a), (time_b, pixels_b)) in enumerate(zip(a["video"], b["video"])):
        assert time_a == time_b, f"output frame {k}"
        np.testing.assert_array_equal(pixels_a, pixels_b, err_msg=f"output frame {k}")
    assert a["others"] == b["others"]


def assert_same_counts(single, split) -> None:
    """Two VideoSummaries count the same frames."""
    from vfi.runtime.scaleout.chunk import COUNTERS

    for name in (*COUNTERS, "written", "lost", "input_duration_s", "output_duration_s"):
        assert getattr(split, name) == getattr(single, name), name


def scene(count: int, cut: int, size=(48, 64)) -> list[np.ndarray]:
    """A moving gradient that changes to a different scene at frame `cut`."""
    height, width = size
    x = np.arange(width)[None, :, None]
    frames = []
    for i in range(count):
        base = (x * 3 + 5 * i) % 200 if i < cut else 255 - (x * 2 + 7 * i) % 180
        frames.append(np.broadcast_to(base, (height, width, 3)).astype(np.uint8))
    return frames


def damage_packet(path: Path, number: int) -> None:
    """Zeroes the payload of video packet `number` after its first two bytes: the container still
    reads, the decoder rejects the packet."""
    with av.open(str(path)) as container:
        packet = [p for p in container.demux(container.streams.video[0]) if p.size][number]
        position, size = packet.pos, packet.size
    data = bytearray(path.read_bytes())
    data[position + 2 : position + size] = bytes(size - 2)
    path.write_bytes(bytes(data))
