"""Thumbnails: a frame's luma, block-averaged to about THUMBNAIL_ROWS rows. The runtime's scene-cut
detection and the calibration sampler's motion and duplicate measures compare them."""

from __future__ import annotations

import numpy as np

THUMBNAIL_ROWS = 36
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A small luma image of a float RGB frame [3, H, W]."""
    # A weighted sum, not a BLAS product: OpenBLAS's threads spin beside the pipeline's own.
    luma = frame[0] * _LUMA[0] + frame[1] * _LUMA[1] + frame[2] * _LUMA[2]
    height, width = luma.shape
    step = max(1, min(height, width) // THUMBNAIL_ROWS)
    rows, cols = height // step, width // step
    return luma[: rows * step, : cols * step].reshape(rows, step, cols, step).mean(axis=(1, 3))
