"""Still images as RGB float32 arrays in [0, 1], and the one float → integer rounding every output
(image, video frame, metric input) goes through."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.fileio import replaced_on_success


DEFAULT_MAX_PIXELS = 7680 * 4320  # the largest frame accepted by default, video or image (8K)


class ImageError(VfiError):
    pass


def read_rgb(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
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
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], np.float32) / np.float32(255.0)


def to_integer(frame: np.ndarray, dtype) -> np.ndarray:
    """Float frame in [0, 1] to integers of `dtype`, clamped and rounded to nearest (ties to even)."""
    scale = np.iinfo(dtype).max
    return np.rint(np.clip(frame, 0.0, 1.0) * scale).astype(dtype)


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """[1,3,H,W] float in [0, 1] to HWC uint8, clamped and rounded (not truncated)."""
    if not np.isfinite(frame).all():
        raise ValueError("frame holds NaN or Inf")
    return to_integer(frame[0], np.uint8).transpose(1, 2, 0)


def read_uint8(path: str | os.PathLike) -> np.ndarray:
    """The image at `path` as HxWx3 uint8, read through `read_rgb` as every input is."""
    return to_uint8(read_rgb(path))


def write_rgb(frame: np.ndarray, path: str | os.PathLike) -> Path:
    """Write `frame` ([1,3,H,W] float in [0, 1]) to `path` (format from the suffix) through a
    temporary file renamed on success."""
    from PIL import Image

    path = Path(path)
    with replaced_on_success(path, path.suffix) as tmp:
        Image.fromarray(np.ascontiguousarray(to_uint8(frame))).save(tmp)
    return path
