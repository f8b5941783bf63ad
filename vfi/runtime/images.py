"""Reading and writing still images as RGB float tensors in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from vfi.errors import VfiError
from vfi.fileio import replaced_on_success


DEFAULT_MAX_PIXELS = 7680 * 4320  # the largest frame accepted by default, video or image (8K)


class ImageError(VfiError):
    pass


def read_rgb(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """The image at `path` as float32 RGB [1,3,H,W] in [0, 1]; grey and alpha are converted.
    Images over `max_pixels` are refused from their header, before their pixels are decoded."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(f"{path}: {width}x{height} exceeds the limit of {max_pixels} pixels (--max-pixels)")
            if image.mode not in ("RGB", "L", "RGBA", "P", "LA"):
                raise ImageError(f"{path}: unsupported pixel format {image.mode} (expected 8-bit RGB or grey)")
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except Image.DecompressionBombError as exc:  # Pillow's own limit, above ours unless --max-pixels raised it
        raise ImageError(f"{path}: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:  # Pillow's plugins raise all of these
        raise ImageError(f"{path}: not a readable image ({exc})") from exc
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).unsqueeze(0).float() / 255.0


def to_uint8(frame: torch.Tensor) -> np.ndarray:
    """[1,3,H,W] float in [0, 1] to HWC uint8, clamped and rounded (not truncated)."""
    if not torch.isfinite(frame).all():
        raise ValueError("frame holds NaN or Inf")
    return (frame[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def write_rgb(frame: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write `frame` to `path` (format from the suffix) through a temporary file renamed on success."""
    from PIL import Image

    path = Path(path)
    with replaced_on_success(path, path.suffix) as tmp:
        Image.fromarray(to_uint8(frame)).save(tmp)
    return path


def swscale_flags():
    """libswscale flags for YUV <-> RGB in both directions. Measured on 8-bit 4:2:0 frames: the
    default (fast bilinear) path darkens luma by about 1 level over a YUV -> RGB -> YUV round trip,
    while accurate rounding with full chroma interpolation returns luma exactly and chroma within 1."""
    from av.video.reformatter import Interpolation

    return Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT | Interpolation.FULL_CHR_H_INP


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
