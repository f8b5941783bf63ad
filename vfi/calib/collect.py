"""Choosing calibration frame pairs: consecutive frames of every input, near-duplicates dropped,
then a seeded selection spread evenly over the input within each motion stratum.

Motion is a cheap frame-difference measure: the mean absolute difference of the two frames' luma
thumbnails, the runtime's scene-cut measure (vfi.runtime.interpolator). Strata are equal-count groups of the candidates ranked by motion, so a clip that is
mostly static still contributes its fast moments, and within a stratum the chosen pairs are evenly
spaced in input order (a seeded offset picks where the spacing starts).
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import vfi
from vfi.calib.sources import open_source
from vfi.calib.store import new_store, write_manifest, write_pair
from vfi.runtime.interpolator import THUMBNAIL_ROWS, thumbnail

DUPLICATE_LEVELS = 32  # pairs whose thumbnails quantised to this many levels are equal are duplicates


@dataclass(frozen=True)
class Candidate:
    source: int  # position in the inputs
    index: int  # frame0's index in its source; frame1 is the next frame
    motion: float  # mean |luma(frame1) - luma(frame0)| on the thumbnails, in [0, 1]


def _duplicate_key(thumb: np.ndarray) -> bytes:
    return (thumb * (DUPLICATE_LEVELS - 1)).round().astype(np.uint8).tobytes()


def scan(sources) -> tuple[list[Candidate], list[dict]]:
    """Every consecutive pair of every source that is not a near-duplicate of an earlier pair,
    and per-source counts."""
    candidates, stats, seen = [], [], set()
    for number, source in enumerate(sources):
        previous = previous_key = None
        pairs = duplicates = 0
        for index, frame in enumerate(source.frames()):
            thumb = thumbnail(frame[0])
            key = _duplicate_key(thumb)
            if previous is not None:
                pairs += 1
                pair_key = previous_key + key
                if pair_key in seen:
                    duplicates += 1
                else:
                    seen.add(pair_key)
                    motion = float(np.abs(thumb - previous).mean())
                    candidates.append(Candidate(number, index - 1, motion))
            previous, previous_key = thumb, key
        if source.declared_frames > source.decoded_frames:
            print(
                f"warning: {source.path}: decoded {source.decoded_frames} of the {source.declared_frames} "
                "frames the container declares (truncated?)",
                file=sys.stderr,
            )
        stats.append({"frames": source.decoded_frames, "frames_declared": source.declared_frames, "pairs": pairs, "duplicates": duplicates})
    return candidates, stats


def select(candidates: list[Candidate], count: int, strata: int, seed: int) -> list[tuple[Candidate, int]]:
    """`count` candidates (all of them when there are fewer) with their stratum: equal-count motion
    strata, each given an equal share, chosen evenly spaced in input order from a seeded start."""
    strata = min(strata, count, len(candidates))
    groups = np.array_split(np.argsort([c.motion for c in candidates], kind="stable"), strata)
    if len(candidates) <= count:
        chosen = [(candidates[i], stratum) for stratum, group in enumerate(groups) for i in group]
    else:
        rng = np.random.default_rng(seed)
        chosen = []
        for stratum, group in enumerate(groups):
            share = count // strata + (stratum < count % strata)
            members = sorted(group)  # input order: candidates are listed by source, then frame
            step = len(members) / share  # >= 1: a group never holds fewer candidates than its share
            start = rng.random() * step
            chosen += [(candidates[members[int(start + k * step)]], stratum) for k in range(share)]
    return sorted(chosen, key=lambda item: (item[0].source, item[0].index))


def collect(inputs: list[str | Path], output: str | Path, pairs: int = 32, strata: int = 4, seed: int = 0) -> dict:
    """Write a calibration store of about `pairs` frame pairs from the videos and image folders
    `inputs` to the new folder `output`; returns its manifest."""
    if pairs < 1 or strata < 1:
        raise ValueError("pairs and strata must be at least 1")
    sources = [open_source(path) for path in inputs]
    candidates, stats = scan(sources)
    chosen = select(candidates, pairs, strata, seed)
    by_source: dict[int, dict[int, tuple[Candidate, int]]] = {}
    for candidate, stratum in chosen:
        by_source.setdefault(candidate.source, {})[candidate.index] = (candidate, stratum)

    entries = []
    with new_store(output) as folder:
        for number, source in enumerate(sources):
            wanted = by_source.get(number, {})
            previous = None
            for index, frame in enumerate(source.frames() if wanted else ()):
                if previous is not None and index - 1 in wanted:
                    candidate, stratum = wanted[index - 1]
                    entry = write_pair(folder, len(entries), previous, frame)
                    entries.append({
                        **entry,
                        "source": number,
                        "frames": [index - 1, index],
                        "frame_names": [source.frame_name(index - 1), source.frame_name(index)],
                        "motion": round(candidate.motion, 6),
                        "stratum": stratum,
                    })
                previous = frame
        manifest = {
            "vfi": vfi.__version__,
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "preprocessing": "RGB float32 [1,3,H,W] in [0, 1] as the runtime converts input "
            "(vfi.runtime.images.read_rgb, video_frame_rgb)",
            "motion_measure": (
                f"mean |luma(frame1) - luma(frame0)| on block-averaged thumbnails of about {THUMBNAIL_ROWS} rows "
                "(vfi.runtime.interpolator.thumbnail), in [0, 1]"
            ),
            "duplicates": (
                f"a pair whose two thumbnails, quantised to {DUPLICATE_LEVELS} levels, equal an earlier pair's "
                "is dropped"
            ),
            "seed": seed,
            "pairs_requested": pairs,
            "strata": strata,
            "counts": {
                "frames": sum(s["frames"] for s in stats),
                "pairs": sum(s["pairs"] for s in stats),
                "duplicates": sum(s["duplicates"] for s in stats),
                "candidates": len(candidates),
                "selected": len(entries),
            },
            "sources": [
                {
                    "path": str(source.path),
                    "kind": source.kind,
                    "sha256": source.sha256(),
                    **stat,
                    "selected": sum(1 for e in entries if e["source"] == number),
                }
                for number, (source, stat) in enumerate(zip(sources, stats))
            ],
            "pairs": entries,
        }
        write_manifest(folder, manifest)
    return manifest
