"""Frame sources: a video decoded with PyAV, or a folder holding an image sequence.

Every frame comes out as float32 RGB [1,3,H,W] in [0, 1], converted exactly as the runtime
converts its input: images by `vfi.frames.images.read_rgb`, video frames by
`vfi.frames.video_frames.video_frame_rgb` after the runtime's pixel-format check.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.fileio import sha256_of
from vfi.frames.images import read_rgb
from vfi.frames.video_frames import check_pix_fmt, video_frame_rgb

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


class SourceError(VfiError):
    """A video or image folder that cannot be read as a frame sequence."""


def open_source(path: str | Path) -> "VideoSource | ImageSequence":
    """The frame source at `path`: a folder of images (in natural name order) or a video file."""
    path = Path(path)
    if path.is_dir():
        return ImageSequence(path)
    if path.is_file():
        return VideoSource(path)
    raise SourceError(f"{path}: no such file or folder")


class VideoSource:
    kind = "video"

    def __init__(self, path: Path):
        self.path = path
        self.declared_frames = 0  # the container's frame count; 0 when it does not say
        self.decoded_frames = 0  # frames the last complete `frames()` pass decoded

    def frames(self) -> Iterator[np.ndarray]:
        import av

        try:
            container = av.open(str(self.path))
        except av.FFmpegError as exc:
            raise SourceError(f"{self.path}: not a readable video ({exc})") from exc
        with container:
            if not container.streams.video:
                raise SourceError(f"{self.path}: has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if stream.codec_context.pix_fmt is None:
                raise SourceError(f"{self.path}: cannot tell the pixel format of its video; the file may be damaged")
            bits = check_pix_fmt(str(self.path), stream.codec_context.pix_fmt)
            self.declared_frames = stream.frames
            count = 0
            try:
                for frame in container.decode(stream):
                    yield video_frame_rgb(frame, bits)[None]
                    count += 1
            except av.FFmpegError as exc:
                raise SourceError(f"{self.path}: decoding failed after {count} frames ({exc})") from exc
        self.decoded_frames = count
        if count < 2:
            raise SourceError(f"{self.path}: decoded {count} frame(s); a frame pair needs at least 2")

    def frame_name(self, index: int) -> str:
        return f"frame {index}"

    def sha256(self) -> str:
        return sha256_of(self.path)


class ImageSequence:
    kind = "images"

    def __init__(self, path: Path):
        self.path = path
        self.files = sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
            key=lambda p: _natural_key(p.name),
        )
        if len(self.files) < 2:
            raise SourceError(f"{path}: holds {len(self.files)} image(s); an image sequence needs at least 2")
        self.declared_frames = self.decoded_frames = len(self.files)

    def frames(self) -> Iterator[np.ndarray]:
        size = None
        for file in self.files:
            frame = read_rgb(file)
            if size is None:
                size = frame.shape
            elif frame.shape != size:
                raise SourceError(
                    f"{file}: is {frame.shape[3]}x{frame.shape[2]} but {self.files[0].name} is "
                    f"{size[3]}x{size[2]}; a sequence has one frame size"
                )
            yield frame

    def frame_name(self, index: int) -> str:
        return self.files[index].name

    def sha256(self) -> str:
        """The digest of the sequence: every file's name and SHA-256, in order."""
        digest = hashlib.sha256()
        for file in self.files:
            digest.update(f"{file.name}\0{sha256_of(file)}\n".encode())
        return digest.hexdigest()


def _natural_key(name: str) -> list:
    """frame2 before frame10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
