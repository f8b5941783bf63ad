"""Interpolator: timesteps (exact and by bisection), batching, sizes, scene cuts, NaN."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

import vfi
from vfi.errors import VfiError
from vfi.frames.thumbnails import thumbnail
from vfi.runtime.interpolator import Interpolator, NonFiniteOutputError
from vfi.runtime.timesteps import MAX_BISECTION_DEPTH, Request, bisection_depth, is_scene_cut, nearest_dyadic

pytestmark = pytest.mark.usefixtures("toy_registered")


def frames(height=48, width=64, dtype=np.uint8, values=(0, 200)):
    return [np.full((height, width, 3), v, dtype) for v in values]


@pytest.mark.parametrize(
    "per_interval, depth", [(F(2), 1), (F(3), 2), (F(4), 2), (F(5, 2), 2), (F(5), 3), (F(8), 3), (F(9), 4), (F(100), 4)]
)
def test_bisection_depth_gives_at_least_as_many_steps_as_frames(per_interval, depth):
    assert bisection_depth(per_interval) == depth
    assert depth == MAX_BISECTION_DEPTH or 2**depth >= per_interval


@pytest.mark.parametrize(
    "t, depth, nearest",
    [(F(1, 3), 2, F(1, 4)), (F(2, 3), 2, F(3, 4)), (F(2, 5), 2, F(1, 2)), (F(1, 8), 2, F(1, 4)), (F(1, 10), 2, F(0)),
     (F(9, 10), 2, F(1)), (F(3, 8), 3, F(3, 8)), (F(1, 2), 1, F(1, 2))],
)
def test_nearest_dyadic(t, depth, nearest):
    assert nearest_dyadic(t, depth) == nearest


def test_arbitrary_t_models_get_the_exact_timestep():
    interp = Interpolator(model="toy_blend")
    f0, f1 = frames()
    for t in (0.5, 0.3, 1 / 3, 0.9):
        out = interp.interpolate(f0, f1, t)
        assert out.dtype == np.uint8 and out.shape == f0.shape
        assert np.all(out == round(200 * t))


def test_midpoint_models_reach_dyadic_timesteps_by_bisection_sharing_midpoints():
    interp = Interpolator(model="toy_mid", batch_size=2)
    f0, f1 = (f.transpose(2, 0, 1).astype(np.float32) / 255 for f in frames())
    requests = [Request(0, f0, f1, t) for t in (F(1, 4), F(1, 2), F(3, 4), F(5, 8))]
    outputs = interp.run(requests)
    for request, output in zip(requests, outputs):
        np.testing.assert_allclose(output, f0 + float(request.t) * (f1 - f0), atol=1e-6)
    assert interp.inferences == 4  # 1/2, then 1/4 and 3/4, then 5/8: each midpoint once


def test_midpoint_models_use_the_nearest_bisection_step():
    interp = Interpolator(model="toy_mid")
    f0, f1 = frames(values=(0, 160))
    assert nearest_dyadic(F(1, 3), MAX_BISECTION_DEPTH) == F(5, 16)
    assert np.all(interp.interpolate(f0, f1, 1 / 3) == 50)  # 5/16 of 160
    assert np.all(interp.interpolate(f0, f1, 0.01) == 0)  # nearest step is frame0 itself


def test_bisection_refuses_non_dyadic_requests():
    interp = Interpolator(model="toy_mid")
    f0, f1 = (np.zeros((3, 8, 8), np.float32),) * 2
    with pytest.raises(ValueError, match="dyadic"):
        interp.run([Request(0, f0, f1, F(1, 3))])


def test_batches_mix_pairs_and_timesteps():
    interp = Interpolator(model="toy_blend", batch_size=3)
    pairs = [(np.full((3, 5, 7), a, np.float32), np.full((3, 5, 7), b, np.float32)) for a, b in ((0, 1), (1, 0), (0.2, 0.6))]
    requests = [Request(i, *pairs[i % 3], F(i + 1, 10)) for i in range(7)]
    for request, output in zip(requests, interp.run(requests)):
        expected = request.frame0 + float(request.t) * (request.frame1 - request.frame0)
        np.testing.assert_allclose(output, expected, atol=1e-6)
    assert interp.inferences == 7


def test_odd_sizes_and_16_bit_frames_keep_their_shape_and_depth():
    interp = Interpolator(model="toy_blend")
    f0, f1 = frames(179, 322, np.uint16, (1000, 3000))
    out = interp.interpolate(f0, f1, 0.5)
    assert out.shape == (179, 322, 3) and out.dtype == np.uint16
    assert np.all(out == 2000)


def test_frames_smaller_than_the_model_minimum_are_padded_and_cropped(monkeypatch):
    interp = Interpolator(model="toy_blend")
    monkeypatch.setattr(interp.backend, "min_size", 32)
    seen = []
    infer = interp.backend.infer
    monkeypatch.setattr(interp.backend, "infer", lambda f0, f1, t: seen.append(f0.shape) or infer(f0, f1, t))
    out = interp.interpolate(*frames(7, 40), 0.5)
    assert seen == [(1, 3, 32, 40)]
    assert out.shape == (7, 40, 3) and np.all(out == 100)


def test_non_finite_model_output_is_an_error():
    interp = Interpolator(model="toy_nan")
    with pytest.raises(NonFiniteOutputError, match="NaN or Inf"):
        interp.interpolate(*frames(), 0.5)


@pytest.mark.parametrize("t", [0, 1, -0.5, 1.5])
def test_t_outside_the_open_interval_is_refused(t):
    with pytest.raises(VfiError, match="strictly between 0 and 1"):
        Interpolator(model="toy_blend").interpolate(*frames(), t)


def test_mismatched_frames_are_refused():
    with pytest.raises(VfiError, match="frames differ"):
        Interpolator(model="toy_blend").interpolate(frames()[0], frames(50)[1], 0.5)


def test_scene_cut_detector_separates_motion_from_cuts():
    y, x = np.mgrid[0:90, 0:160].astype(np.float32)
    scene = np.stack([0.5 + 0.4 * np.sin(x / 9 + c) * np.cos(y / 7) for c in range(3)])
    moved = np.roll(scene, 4, axis=2)  # a small motion
    other = np.stack([0.5 + 0.4 * np.cos(x / 5 - c) * np.sin(y / 11 + 1) for c in range(3)])
    assert 36 <= thumbnail(scene).shape[0] < 72
    assert not is_scene_cut(thumbnail(scene), thumbnail(moved), 0.10)
    assert is_scene_cut(thumbnail(scene), thumbnail(other), 0.10)
    assert not is_scene_cut(thumbnail(scene), thumbnail(other), None)  # detection off


def test_the_package_exports_interpolator_lazily():
    import subprocess
    import sys

    code = "import sys, vfi; assert 'torch' not in sys.modules; vfi.Interpolator; assert 'vfi.runtime.interpolator' in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=vfi.__path__[0] + "/..").returncode == 0
    assert vfi.Interpolator is Interpolator
