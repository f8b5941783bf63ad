"""Triplet folders: two frames and the ground-truth frame halfway between them, in one of the
LAYOUTS below (PNG, or JPEG with the same names). `vfi eval` and `vfi parity` find them the same
way: the folder given may be a triplet itself or hold triplets in folders at any depth."""

from __future__ import annotations

from pathlib import Path

from vfi.errors import VfiError

# (first frame, second frame, ground truth) file stems
LAYOUTS = (
    ("frame10", "frame11", "frame10i11"),  # Middlebury
    ("frame0", "frame2", "frame1"),  # UCF101 / DAVIS triplets as the DVF and CAIN test sets ship them
    ("frame_00", "frame_02", "frame_01_gt"),  # SNU-FILM / Xiph-style triplets
)
SUFFIXES = (".png", ".jpg", ".jpeg")


class TripletError(VfiError):
    pass


def find_triplets(data: str | Path, *, truth_optional: bool = False) -> list[tuple[str, tuple[Path, Path, Path | None]]]:
    """(name, (frame0, frame1, truth)) of every triplet folder at or below `data`, sorted by name;
    empty when there is none. With `truth_optional`, a folder holding a layout's two input frames
    without its ground truth counts too, with truth None."""
    data = Path(data)
    if not data.is_dir():
        raise TripletError(f"{data}: no such folder")
    found = []
    for folder in sorted([data, *(p for p in data.rglob("*") if p.is_dir())]):
        files = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()}
        for first, second, truth in LAYOUTS:
            if first in files and second in files and (truth in files or truth_optional):
                name = folder.relative_to(data).as_posix() if folder != data else folder.name
                found.append((name, (files[first], files[second], files.get(truth))))
                break
    return found


def describe_layouts() -> str:
    return "; ".join(", ".join(layout) for layout in LAYOUTS)
