"""Procedurally generated video: textured objects moving over a moving textured background, passing
in front of each other and out of the frame, so the clip has large motion, occlusions and
disocclusions. Used by `vfi demo` and by the tests.

A `Scene` renders the frame at any real time, so a test can compare an interpolated frame with the
true one: `scene.frame(0.5)` lies exactly halfway between `scene.frame(0)` and `scene.frame(1)`.
Motion is linear in time (background pan, object paths), so the halfway frame is what a perfect
interpolator would produce.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import ndimage

from vfi.errors import VfiError
from vfi.fileio import replaced_on_success

DEFAULT_SIZE = (480, 272)  # width, height (even, for 4:2:0 video)
DEFAULT_FRAMES = 24
DEFAULT_RATE = Fraction(12)
DEFAULT_CRF = 16  # close to lossless, so the demo's input shows the clip, not the codec
# The benchmarks' input when none is given: the size, length and rate of car-turn.mp4.
BENCH_SIZE = (640, 360)
BENCH_FRAMES = 81
BENCH_RATE = Fraction(25)


def texture(rng: np.random.Generator, height: int, width: int, scales=(1.5, 4.0, 12.0)) -> np.ndarray:
    """A colourful random texture in [0, 1], HxWx3: band-passed noise at several scales in
    luminance, colour from the coarsest scale only (fine colour noise would not survive 4:2:0
    video), plus faint stripes; fine detail for motion estimation and large shapes."""

    def noise(scale: float) -> np.ndarray:
        field = ndimage.gaussian_filter(rng.standard_normal((height, width)), scale)
        return field / (np.abs(field).max() + 1e-9)

    luminance = sum(noise(s) for s in scales) / len(scales)
    colour = np.stack([noise(max(scales)) for _ in range(3)], axis=2)
    image = 0.5 + 0.5 * luminance[..., None] + 0.3 * colour
    y, x = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((x * np.cos(angle) + y * np.sin(angle)) * rng.uniform(0.05, 0.15))
    return np.clip(image + 0.06 * stripes[..., None] * rng.uniform(-1, 1, 3), 0, 1)


def sprite_texture(rng: np.random.Generator, radius: float) -> np.ndarray:
    """A checkerboard in a random saturated colour and its complement, with fine noise: distinct
    from the background and easy to track."""
    size = int(np.ceil(radius)) * 2 + 1
    y, x = np.mgrid[0:size, 0:size]
    cell = max(2, int(radius / 3))
    checks = ((x // cell + y // cell) % 2)[..., None]
    colour = rng.uniform(0.1, 0.9, 3)
    colour = (colour - colour.mean()) * 2.5 + 0.5
    base = np.where(checks, colour, 1 - colour)
    return np.clip(base + 0.2 * ndimage.gaussian_filter(rng.standard_normal((size, size)), 1)[..., None], 0, 1)


@dataclass
class Sprite:
    """A textured disc or rounded square moving along a straight line: centre (x, y) at time
    `time` is `start + velocity * time`; drawn in the order of the scene's list."""

    start: np.ndarray  # (x, y) pixels
    velocity: np.ndarray  # (x, y) pixels per frame
    radius: float
    square: bool
    pixels: np.ndarray  # its texture, (2R+1)x(2R+1)x3, moving with it


class Scene:
    """`frame(time)`: HxWx3 uint8 RGB at any real time (frames are at integer times)."""

    def __init__(self, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1], seed: int = 0, frames: int = DEFAULT_FRAMES):
        if width < 16 or height < 16:
            raise VfiError(f"synthetic clips need at least 16x16 pixels, got {width}x{height}")
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        scale = min(width, height)
        # The background pans diagonally, a few pixels per frame, and is large enough never to run out.
        self.pan = rng.uniform(0.6, 1.2, 2) * scale / 100 * rng.choice([-1, 1], 2)
        self.margin = int(np.abs(self.pan).max() * max(frames, 1)) + 8
        self.background = texture(rng, height + 2 * self.margin, width + 2 * self.margin, (3.0, 10.0, 30.0))
        self.sprites = []
        lanes = np.linspace(0.22, 0.78, 4) * height  # lanes closer than the sprites are wide: crossing sprites occlude each other
        for index, lane in enumerate(lanes):
            radius = scale * rng.uniform(0.12, 0.17)
            speed = scale * rng.uniform(0.012, 0.025) * (1 if index % 2 else -1)
            # Each sprite crosses the frame's middle at a different time within the clip.
            crossing = rng.uniform(0.25, 0.75) * max(frames - 1, 1)
            start = np.array([width / 2 - speed * crossing, lane])
            velocity = np.array([speed, rng.uniform(-0.2, 0.2) * abs(speed)])
            self.sprites.append(Sprite(start, velocity, radius, bool(index % 2), sprite_texture(rng, radius)))

    def frame(self, time: float) -> np.ndarray:
        y, x = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        offset = self.pan * time
        coords = [y + self.margin + offset[1], x + self.margin + offset[0]]
        image = np.stack(
            [ndimage.map_coordinates(self.background[..., c], coords, order=1, mode="reflect") for c in range(3)], axis=2
        )
        for sprite in self.sprites:
            cx, cy = sprite.start + sprite.velocity * time
            dx, dy = x - cx, y - cy
            if sprite.square:  # rounded square: distance beyond an inner square of half the radius
                inner = sprite.radius / 2
                outside = np.hypot(np.maximum(np.abs(dx) - inner, 0), np.maximum(np.abs(dy) - inner, 0))
                distance = outside + inner
            else:
                distance = np.hypot(dx, dy)
            alpha = np.clip(sprite.radius - distance + 0.5, 0, 1)[..., None]  # anti-aliased edge
            centre = sprite.pixels.shape[0] // 2
            local = [dy + centre, dx + centre]
            colour = np.stack(
                [ndimage.map_coordinates(sprite.pixels[..., c], local, order=1, mode="nearest") for c in range(3)], axis=2
            )
            image = image * (1 - alpha) + colour * alpha
        return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)

    def frames(self, count: int) -> list[np.ndarray]:
        return [self.frame(float(k)) for k in range(count)]


def write_mp4(frames: list[np.ndarray], path: str | os.PathLike, rate: Fraction = DEFAULT_RATE, crf: int = DEFAULT_CRF) -> Path:
    """Encode HxWx3 uint8 RGB `frames` as H.264 (yuv420p) MP4 at `rate`, through a temporary file
    in the same folder renamed on success."""
    import av

    path = Path(path)
    height, width = frames[0].shape[:2]
    if width % 2 or height % 2:
        raise VfiError(f"{path}: 4:2:0 video needs an even width and height, got {width}x{height}")
    if not path.parent.is_dir():
        raise VfiError(f"{path}: the folder {path.parent} does not exist")
    with replaced_on_success(path, path.suffix) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf)}
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def write_bench_clip(path: str | os.PathLike) -> Path:
    """The benchmarks' default input (BENCH_SIZE, BENCH_FRAMES at BENCH_RATE, scene seed 0)."""
    scene = Scene(*BENCH_SIZE, seed=0, frames=BENCH_FRAMES)
    return write_mp4(scene.frames(BENCH_FRAMES), path, BENCH_RATE)
