"""The procedural clip: deterministic, moving, with occlusions; its MP4 is decodable, complete and
written atomically."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest

from vfi.errors import VfiError
from vfi.frames.synthetic import Scene, write_mp4


def test_scenes_are_deterministic_and_seeds_differ():
    assert np.array_equal(Scene(64, 48, seed=5).frame(2.5), Scene(64, 48, seed=5).frame(2.5))
    assert not np.array_equal(Scene(64, 48, seed=5).frame(2.5), Scene(64, 48, seed=6).frame(2.5))
    frame = Scene(64, 48).frame(0.0)
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8


def test_everything_moves_and_sprites_occlude_each_other():
    scene = Scene(320, 192, seed=0, frames=24)
    assert np.abs(scene.pan).min() > 0.5  # the background moves too
    times = np.linspace(0, 23, 93)
    overlaps = 0
    for i, a in enumerate(scene.sprites):
        assert np.linalg.norm(a.velocity) > 1
        for b in scene.sprites[i + 1 :]:
            gaps = [np.linalg.norm((a.start + a.velocity * t) - (b.start + b.velocity * t)) for t in times]
            overlaps += min(gaps) < 0.8 * (a.radius + b.radius)
    assert overlaps >= 2
    # Half-way frames lie between their neighbours: not equal to either.
    assert not np.array_equal(scene.frame(3.5), scene.frame(3.0)) and not np.array_equal(scene.frame(3.5), scene.frame(4.0))


def test_mp4_round_trip(tmp_path):
    frames = Scene(96, 64, seed=2, frames=6).frames(6)
    path = write_mp4(frames, tmp_path / "clip.mp4")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert (stream.codec_context.name, stream.average_rate) == ("h264", 12)
    assert len(decoded) == 6 and decoded[0].shape == (64, 96, 3)
    luma = np.array([0.299, 0.587, 0.114])
    for original, back in zip(frames, decoded):  # luminance: 4:2:0 halves the chroma resolution
        mse = np.mean((original @ luma - back @ luma) ** 2)
        assert 10 * math.log10(255**2 / mse) > 38  # measured 42 dB at CRF 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_mp4_bad_requests_fail_cleanly(tmp_path):
    frames = Scene(64, 48).frames(2)
    with pytest.raises(VfiError, match="even width and height"):
        write_mp4([f[:, :63] for f in frames], tmp_path / "odd.mp4")
    with pytest.raises(VfiError, match="does not exist"):
        write_mp4(frames, tmp_path / "missing" / "clip.mp4")
    with pytest.raises(VfiError, match="at least 16x16"):
        Scene(8, 8)
    assert list(tmp_path.iterdir()) == []
