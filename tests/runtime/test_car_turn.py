"""The pipeline on real footage: ../shared/data/videos/car-turn.mp4 (H.264, 640x360, 25 fps, 81 frames)."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from clips import read_clip
from vfi.runtime.interpolator import Interpolator
from vfi.runtime.video import EncoderOptions, process_video

pytestmark = [pytest.mark.data, pytest.mark.usefixtures("toy_registered")]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def car_turn(data_dir):
    path = data_dir / "videos" / "car-turn.mp4"
    return path, read_clip(path)


def test_factor_2(car_turn, tmp_path):
    path, original = car_turn
    summary = process_video(Interpolator(model="toy_blend"), path, tmp_path / "out.mp4", factor=2,
                            encoder=EncoderOptions(codec="ffv1"))
    out = read_clip(tmp_path / "out.mp4")
    assert len(original.frames) == 81 and len(out.frames) == summary.written == 161 and summary.lost == 0
    assert out.stream["base_rate"] == 50 and out.times == [F(k, 50) for k in range(161)]
    assert out.stream["duration"] == original.stream["duration"] == F(81, 25)
    assert min(psnr(out.frames[2 * i], frame) for i, frame in enumerate(original.frames)) >= 40
    assert summary.scene_cuts == 0 and summary.original == 81 and summary.interpolated == 80


def test_fps_60(car_turn, tmp_path):
    path, original = car_turn
    summary = process_video(Interpolator(model="toy_blend"), path, tmp_path / "out.mp4", fps=60)
    out = read_clip(tmp_path / "out.mp4")
    assert len(out.frames) == summary.written == 193  # every k/60 s up to the last input frame at 3.2 s
    assert out.times == [F(k, 60) for k in range(193)]
    assert out.stream["base_rate"] == 60 and out.stream["duration"] == original.stream["duration"]
    assert summary.original == 17  # the input frames at multiples of 0.2 s are shown as they are
