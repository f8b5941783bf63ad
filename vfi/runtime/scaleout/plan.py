"""Where one video is split into chunks: at input frames a worker can start decoding at, found from
the packets alone (demuxed, not decoded)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import av

from vfi.runtime.video.options import VideoError
from vfi.runtime.video.source import error_reason

# A keyframe this close to an even split point (as a fraction of a chunk's length) is preferred to
# the frame at the point itself, whose chunk would decode the frames before it from their keyframe
# a second time.
_KEYFRAME_REACH = 0.25


@dataclass(frozen=True)
class Packet:
    pts: int | None
    keyframe: bool


@dataclass(frozen=True)
class Boundary:
    """Where a chunk starts: the input frame shown at `pts` (the previous chunk's last frame), whose
    decoding starts after skipping `skip` video packets (up to the last keyframe before it)."""

    skip: int
    pts: int


@dataclass(frozen=True)
class Chunk:
    """Input frames from `start_pts` (None: the video's first) to `end_pts` (None: its last), the
    frame at `end_pts` shared with the next chunk, and the output frames from `first_output` until
    the next chunk's."""

    index: int
    skip: int
    start_pts: int | None
    end_pts: int | None
    first_output: int
    output_frames: int | None  # None for the last chunk: it runs to the end of the input


def scan(path: str) -> list[Packet]:
    """The video packets of `path` in decoding order. Unreadable data fails the run: a worker could
    not tell which frames of a damaged file belong to its chunk."""
    packets = []
    try:
        with av.open(path) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.size:  # the demuxer's empty end-of-stream packet
                    packets.append(Packet(packet.pts, packet.is_keyframe))
    except av.FFmpegError as exc:
        raise VideoError(
            f"{path}: unreadable data after video packet {len(packets)} ({error_reason(exc)}); a damaged file cannot be "
            "split across workers: run without --ray to interpolate what decodes"
        ) from exc
    return packets


def boundaries(packets: list[Packet], count: int) -> list[Boundary]:
    """Up to `count - 1` places to split at, near even fractions of the packets. A frame can start
    a chunk when its timestamp is later than every earlier packet's (so no frame decoded before it is
    shown after it, and the single-process run places it) and a keyframe precedes it; keyframes are
    preferred. Packets without timestamps leave the video in one chunk."""
    if count < 2 or any(p.pts is None for p in packets):
        return []
    candidates, keyframes = [], []  # packet indices; at keyframes, decoding starts at the frame itself
    latest, last_keyframe = packets[0].pts, 0 if packets[0].keyframe else None
    for i, packet in enumerate(packets[1:], 1):
        if packet.keyframe:
            last_keyframe = i
        if packet.pts > latest and last_keyframe is not None:
            candidates.append((i, last_keyframe))
            if last_keyframe == i:
                keyframes.append((i, i))
        latest = max(latest, packet.pts)
    length = len(packets) / count
    chosen: list[tuple[int, int]] = []
    for j in range(1, count):
        target = j * length
        nearest = _nearest(keyframes, target)
        if nearest is None or abs(nearest[0] - target) > _KEYFRAME_REACH * length:
            nearest = _nearest(candidates, target)
        if nearest is not None and nearest[0] > (chosen[-1][0] if chosen else 0) and nearest[0] < len(packets) - 1:
            chosen.append(nearest)
    return [Boundary(skip, packets[i].pts) for i, skip in chosen]


def _nearest(options: list[tuple[int, int]], target: float) -> tuple[int, int] | None:
    return min(options, key=lambda option: abs(option[0] - target), default=None)


def chunks(splits: list[Boundary], start: Fraction, rate: Fraction, time_base: Fraction) -> list[Chunk]:
    """The chunks between `splits`, with their output frames: frame k is at start + k / rate."""
    firsts = [0] + [math.ceil((split.pts * time_base - start) * rate) for split in splits]
    skips = [0] + [split.skip for split in splits]
    starts = [None] + [split.pts for split in splits]
    ends = starts[1:] + [None]
    return [
        Chunk(i, skips[i], starts[i], ends[i], firsts[i], firsts[i + 1] - firsts[i] if ends[i] is not None else None)
        for i in range(len(starts))
    ]
