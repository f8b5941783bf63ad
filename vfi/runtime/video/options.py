"""What the user gives a video run: the paths ("-" for y4m on stdin/stdout), the output rate and
frame sizes, checked before any work."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from vfi.errors import VfiError

PIPE = "-"
Y4M = "yuv4mpegpipe"
# The output rate is at most this many times the input's: beyond it a short clip becomes millions
# of frames (slow motion needs 8-32×).
MAX_FACTOR = 256
MAX_TIME_BASE = 2**31 - 1  # containers store time bases as 32-bit integers


class VideoError(VfiError):
    """A video that cannot be read or written, named in the message."""


def parse_rate(text: str, option: str = "--fps") -> Fraction:
    """A frame rate from "60", "59.94" or "60000/1001" (exact)."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise VfiError(f"{option}: not a frame rate: {text!r} (examples: 60, 50, 60000/1001)") from None
    if rate <= 0:
        raise VfiError(f"{option}: the frame rate must be positive, got {text}")
    if not storable_rate(rate):
        raise VfiError(f"{option}: {text} cannot be stored in a video file (a fraction of integers below 2^31)")
    return rate


def storable_rate(rate: Fraction) -> bool:
    """Whether containers can hold `rate`: their time bases are 32-bit integer fractions."""
    return rate.numerator <= MAX_TIME_BASE and rate.denominator <= MAX_TIME_BASE


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """A frame size (width, height) from "WxH", e.g. "1280x720"."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise VfiError(f"{option}: expected WxH such as 1280x720, got {text!r}") from None
    if width < 1 or height < 1:
        raise VfiError(f"{option}: the width and height must be positive, got {text}")
    return width, height


def check_output_rate(label: str, input_rate: Fraction, rate: Fraction) -> None:
    """Refuses an output `rate` for input `label` at `input_rate` fps that is too high or unstorable."""
    if rate > MAX_FACTOR * input_rate:
        raise VideoError(
            f"{label}: --fps {rate_text(rate)} is more than {MAX_FACTOR}× its {rate_text(input_rate)} fps"
        )
    if not storable_rate(rate):
        raise VideoError(
            f"{label}: the output rate {rate} fps (from its {rate_text(input_rate)} fps) cannot be stored "
            "in a video file (a fraction of integers below 2^31)"
        )


def check_output_path(input: str, output: str) -> None:
    path = Path(output)
    if not path.parent.is_dir():
        raise VfiError(f"{output}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise VfiError(f"{output}: is a folder; give a file name")
    if input != PIPE and path.exists() and Path(input).exists() and path.samefile(input):
        raise VfiError(f"{output}: is the input file; write to another file")


def rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator} ({float(rate):.3f})"
