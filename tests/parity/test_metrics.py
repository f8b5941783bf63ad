"""PSNR and SSIM as the literature defines them, checked against closed forms and a direct
(window-by-window) evaluation of Wang et al.'s formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vfi.parity.metrics import SSIM_K1, SSIM_K2, SSIM_RADIUS, SSIM_SIGMA, psnr, ssim


def test_psnr_closed_form():
    a = np.zeros((1, 3, 8, 8))
    b = np.full((1, 3, 8, 8), 0.1)
    assert psnr(b, a) == pytest.approx(20.0)  # mse 0.01
    assert psnr(b * 255, a, 255.0) == pytest.approx(20.0)
    assert psnr(a, a) == math.inf


def test_ssim_of_an_image_with_itself_is_one():
    image = np.random.default_rng(0).random((1, 3, 24, 20))
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_flat_images_is_the_luminance_term():
    a, b = np.full((3, 16, 16), 0.2), np.full((3, 16, 16), 0.6)
    c1 = (SSIM_K1 * 1.0) ** 2
    assert ssim(a, b) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1))


def test_ssim_equals_a_direct_window_by_window_evaluation():
    rng = np.random.default_rng(1)
    a = rng.random((2, 17, 19))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    offsets = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1)
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * SSIM_SIGMA**2))
    window /= window.sum()
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    values = []
    for channel in range(a.shape[0]):
        for y in range(SSIM_RADIUS, a.shape[1] - SSIM_RADIUS):
            for x in range(SSIM_RADIUS, a.shape[2] - SSIM_RADIUS):
                pa = a[channel, y - SSIM_RADIUS : y + SSIM_RADIUS + 1, x - SSIM_RADIUS : x + SSIM_RADIUS + 1]
                pb = b[channel, y - SSIM_RADIUS : y + SSIM_RADIUS + 1, x - SSIM_RADIUS : x + SSIM_RADIUS + 1]
                ma, mb = (window * pa).sum(), (window * pb).sum()
                va, vb = (window * pa * pa).sum() - ma**2, (window * pb * pb).sum() - mb**2
                cov = (window * pa * pb).sum() - ma * mb
                values.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    assert ssim(a, b) == pytest.approx(np.mean(values), abs=1e-9)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-12)
    assert ssim(a, b) < 1


def test_ssim_rejects_mismatched_or_tiny_images():
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(np.zeros((3, 16, 16)), np.zeros((3, 16, 17)))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((3, 10, 16)), np.zeros((3, 10, 16)))
