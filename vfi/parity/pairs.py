"""The frame pairs `vfi parity` runs on: triplet folders (vfi.frames.triplets, ground truth where
present), or consecutive pairs spread over a video or image sequence; and the feeds they give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.runtime.backends import FRAME_INPUTS, TIME_INPUT


MIDPOINT = 0.5


class ParityError(VfiError):
    pass


@dataclass
class Pair:
    name: str
    frame0: np.ndarray  # float32 [1,3,H,W] in [0, 1]
    frame1: np.ndarray
    truth: np.ndarray | None  # the real middle frame, when the data has one
    t: float | None = MIDPOINT  # the time given to runners that take t; None: a loaded feed without t


def load_pairs(data: str | Path, max_pairs: int = 8) -> list[Pair]:
    """The frame pairs of `data` (see the module docstring)."""
    from vfi.frames.images import read_rgb
    from vfi.frames.triplets import find_triplets

    data = Path(data)
    triplets = find_triplets(data, truth_optional=True) if data.is_dir() else []
    if triplets:
        pairs = []
        for name, (path0, path1, truth_path) in triplets:
            frame0, frame1 = read_rgb(path0), read_rgb(path1)
            truth = read_rgb(truth_path) if truth_path is not None else None
            if {frame0.shape, frame1.shape, frame0.shape if truth is None else truth.shape} != {frame0.shape}:
                raise ParityError(f"{path0.parent}: the frames of the triplet differ in size")
            pairs.append(Pair(name, frame0, frame1, truth))
        return pairs
    from vfi.frames.sources import open_source

    source = open_source(data)
    count = sum(1 for _ in source.frames()) - 1  # consecutive pairs
    taken = min(max_pairs, count)
    wanted = {round(i * (count - 1) / max(1, taken - 1)) for i in range(taken)}
    pairs, previous = [], None
    for index, frame in enumerate(source.frames()):
        if previous is not None and index - 1 in wanted:
            pairs.append(Pair(f"{source.frame_name(index - 1)} → {source.frame_name(index)}", previous, frame, None))
        previous = frame
    return pairs


def feed(pair: Pair, inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """The arrays the runners are given for `pair`, by input name."""
    arrays = {FRAME_INPUTS[0]: pair.frame0, FRAME_INPUTS[1]: pair.frame1}
    if TIME_INPUT in inputs:
        arrays[TIME_INPUT] = np.full((1,), pair.t, np.float32)
    return arrays


def check_loaded_inputs(path: Path, pairs: list[Pair], inputs: tuple[str, ...]) -> None:
    """Pairs loaded from `path` must feed exactly the runners' inputs (t included or not)."""
    for pair in pairs:
        fed = FRAME_INPUTS + ((TIME_INPUT,) if pair.t is not None else ())
        if fed != inputs:
            raise ParityError(f"{path}: {pair.name} has inputs ({', '.join(fed)}); the runners take ({', '.join(inputs)})")
