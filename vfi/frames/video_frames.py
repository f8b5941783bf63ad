"""Decoded PyAV video frames to RGB float32 arrays, and the pixel formats vfi accepts."""

from __future__ import annotations

import numpy as np

from vfi.errors import VfiError


class PixelFormatError(VfiError):
    pass


def swscale_flags():
    """libswscale flags for YUV <-> RGB in both directions. Measured on 8-bit 4:2:0 frames: the
    default (fast bilinear) path darkens luma by about 1 level over a YUV -> RGB -> YUV round trip,
    while accurate rounding with full chroma interpolation returns luma exactly and chroma within 1."""
    from av.video.reformatter import Interpolation

    return Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT | Interpolation.FULL_CHR_H_INP


def check_pix_fmt(label: str, pix_fmt: str) -> int:
    """The bits per component of the input pixel format `pix_fmt`; refuses formats vfi would
    flatten silently."""
    import av

    fmt = av.VideoFormat(pix_fmt)
    if any(c.is_alpha for c in fmt.components):
        raise PixelFormatError(f"{label}: pixel format {pix_fmt} has an alpha channel, which interpolation would drop; not supported")
    if fmt.is_bayer:
        raise PixelFormatError(f"{label}: pixel format {pix_fmt} is raw Bayer data; demosaic it first")
    return max(c.bits for c in fmt.components)


def video_frame_rgb(frame, bits: int) -> np.ndarray:
    """A decoded PyAV video frame as float32 RGB [3,H,W] in [0, 1], converted with the frame's
    colour range: through 16-bit RGB when its format has more than 8 bits per component (`bits`),
    else through 8-bit RGB, as 8-bit images are."""
    deep = bits > 8
    rgb = frame.to_ndarray(
        format="rgb48le" if deep else "rgb24", src_color_range=frame.color_range, interpolation=swscale_flags()
    )
    out = np.empty((3, *rgb.shape[:2]), np.float32)
    return np.divide(rgb.transpose(2, 0, 1), np.float32(65535.0 if deep else 255.0), out=out, dtype=np.float32)
