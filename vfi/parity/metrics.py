"""Image quality metrics on RGB frames in [0, 1]: PSNR and SSIM (Wang et al. 2004).

SSIM uses the paper's settings: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03,
statistics without the sample-covariance correction, averaged over the valid region (the window
inside the image) and over channels; this equals scikit-image's
`structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1)`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vfi.frames.images import to_uint8

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # the 11x11 window
SSIM_K1, SSIM_K2 = 0.01, 0.03


def psnr(actual: np.ndarray, expected: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; inf when the arrays are equal."""
    mse = float(np.mean((np.asarray(actual, np.float64) - np.asarray(expected, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


def ssim(actual: np.ndarray, expected: np.ndarray, data_range: float = 1.0) -> float:
    """Mean structural similarity of two [1,C,H,W] or [C,H,W] images (H, W >= 11)."""
    a = np.asarray(actual, np.float64).reshape(-1, *np.shape(actual)[-2:])
    b = np.asarray(expected, np.float64).reshape(-1, *np.shape(expected)[-2:])
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {np.shape(actual)} and {np.shape(expected)}")
    if min(a.shape[-2:]) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs images of at least {2 * SSIM_RADIUS + 1}x{2 * SSIM_RADIUS + 1}, got {a.shape[-1]}x{a.shape[-2]}")

    taps = np.exp(-(np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1) ** 2) / (2 * SSIM_SIGMA**2))
    taps /= taps.sum()

    def blur(x):  # the separable window over the valid region, per channel
        rows = sliding_window_view(x, taps.size, axis=1) @ taps
        return sliding_window_view(rows, taps.size, axis=2) @ taps

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(index.mean())


SSIM_UNIFORM_SIZE = 7  # scikit-image's default window


def ssim_uint8(actual: np.ndarray, expected: np.ndarray) -> float:
    """SSIM of two HxWx3 uint8 RGB images as frame-interpolation benchmarks report it:
    scikit-image's `structural_similarity(a, b, channel_axis=2, data_range=255)` with its
    defaults (a 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, the mean over the
    valid region and then over channels). Differs from `ssim` above (Gaussian window, population
    covariance) by about 0.01 on typical frames; `vfi eval` uses this one so its numbers compare
    with published tables."""
    a = np.moveaxis(np.asarray(actual, np.float64), -1, 0)
    b = np.moveaxis(np.asarray(expected, np.float64), -1, 0)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {np.shape(actual)} and {np.shape(expected)}")
    size = SSIM_UNIFORM_SIZE
    if min(a.shape[-2:]) < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size}, got {a.shape[-1]}x{a.shape[-2]}")

    def mean(x):  # the uniform window over the valid region, per channel
        rows = sliding_window_view(x, size, axis=1).mean(axis=-1)
        return sliding_window_view(rows, size, axis=2).mean(axis=-1)

    mu_a, mu_b = mean(a), mean(b)
    correction = size * size / (size * size - 1)  # sample covariance, as scikit-image by default
    var_a = correction * (mean(a * a) - mu_a**2)
    var_b = correction * (mean(b * b) - mu_b**2)
    cov = correction * (mean(a * b) - mu_a * mu_b)
    c1, c2 = (SSIM_K1 * 255) ** 2, (SSIM_K2 * 255) ** 2
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(index.mean(axis=(1, 2)).mean())


def to_8bit(frame: np.ndarray) -> np.ndarray:
    """[1,3,H,W] float in [0, 1] to [3,H,W] uint8, clamped and rounded as the runtime writes frames."""
    return to_uint8(np.asarray(frame, np.float32)).transpose(2, 0, 1)
