"""Choosing calibration samples: runs of consecutive frames of every input (pairs for the
frame-pair models, three or four for DSFN), near-duplicates dropped, then a seeded selection spread
evenly over the input within each motion stratum.

Motion is a cheap frame-difference measure: the mean absolute difference of consecutive frames'
luma thumbnails (the runtime's scene-cut measure, vfi.frames.thumbnails), averaged over the
sample. Strata are equal-count groups of the candidates ranked by motion, so a clip that is mostly
static still contributes its fast moments, and within a stratum the chosen samples are evenly
spaced in input order (a seeded offset picks where the spacing starts). Models that take
low-resolution frames (DSFN upsamples 4x) are calibrated on frames area-downscaled by an integer
factor, as the tests make DSFN's input.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import vfi
from vfi.frames.sources import SourceError, open_source
from vfi.calib.store import new_store, write_manifest, write_sample
from vfi.frames.thumbnails import THUMBNAIL_ROWS, thumbnail

DUPLICATE_LEVELS = 32  # samples whose thumbnails quantised to this many levels are equal are duplicates


@dataclass(frozen=True)
class Candidate:
    source: int  # position in the inputs
    index: int  # frame0's index in its source; the sample's other frames follow it
    motion: float  # mean |luma(next) - luma(frame)| over the sample's consecutive frames, in [0, 1]


def _duplicate_key(thumb: np.ndarray) -> bytes:
    return (thumb * (DUPLICATE_LEVELS - 1)).round().astype(np.uint8).tobytes()


def scan(sources, length: int) -> tuple[list[Candidate], list[dict]]:
    """Every run of `length` consecutive frames of every source that is not a near-duplicate of
    an earlier one, and per-source counts."""
    candidates, stats, seen = [], [], set()
    for number, source in enumerate(sources):
        thumbs, keys = [], []  # of the last `length` frames
        windows = duplicates = 0
        for index, frame in enumerate(source.frames()):
            thumb = thumbnail(frame[0])
            thumbs, keys = [*thumbs, thumb][-length:], [*keys, _duplicate_key(thumb)][-length:]
            if len(thumbs) < length:
                continue
            windows += 1
            window_key = b"".join(keys)
            if window_key in seen:
                duplicates += 1
                continue
            seen.add(window_key)
            motion = float(np.mean([np.abs(b - a).mean() for a, b in zip(thumbs, thumbs[1:])]))
            candidates.append(Candidate(number, index - length + 1, motion))
        if source.declared_frames > source.decoded_frames:
            print(
                f"warning: {source.path}: decoded {source.decoded_frames} of the {source.declared_frames} "
                "frames the container declares (truncated?)",
                file=sys.stderr,
            )
        stats.append({"frames": source.decoded_frames, "frames_declared": source.declared_frames,
                      "windows": windows, "duplicates": duplicates})
    return candidates, stats


def area_downscale(frame: np.ndarray, factor: int) -> np.ndarray:
    """[1,3,H,W] averaged over factor x factor blocks (the bottom and right remainders dropped)."""
    if factor == 1:
        return frame
    n, c, h, w = frame.shape
    h, w = h // factor, w // factor
    blocks = frame[:, :, : h * factor, : w * factor].reshape(n, c, h, factor, w, factor)
    return blocks.mean(axis=(3, 5), dtype=np.float64).astype(np.float32)


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


def collect(
    inputs: list[str | Path], output: str | Path, samples: int = 32, frames: int = 2, downscale: int = 1,
    strata: int = 4, seed: int = 0,
) -> dict:
    """Write a calibration store of about `samples` runs of `frames` consecutive frames (area-
    downscaled by `downscale`) from the videos and image folders `inputs` to the new folder
    `output`; returns its manifest."""
    if samples < 1 or strata < 1 or frames < 2 or downscale < 1:
        raise ValueError("samples, strata and downscale must be at least 1, frames at least 2")
    sources = [open_source(path) for path in inputs]
    candidates, stats = scan(sources, frames)
    chosen = select(candidates, samples, strata, seed)
    by_source: dict[int, dict[int, tuple[Candidate, int]]] = {}
    for candidate, stratum in chosen:
        by_source.setdefault(candidate.source, {})[candidate.index] = (candidate, stratum)

    entries = []
    with new_store(output) as folder:
        for number, source in enumerate(sources):
            wanted = by_source.get(number, {})
            recent = []  # the last `frames` frames, downscaled
            for index, frame in enumerate(source.frames() if wanted else ()):
                recent = [*recent, area_downscale(frame, downscale)][-frames:]
                first = index - frames + 1
                if first in wanted:
                    candidate, stratum = wanted[first]
                    if min(recent[0].shape[2:]) < 1:
                        raise SourceError(
                            f"{source.path}: {frame.shape[3]}x{frame.shape[2]} frames are smaller than the downscale "
                            f"factor {downscale}"
                        )
                    entry = write_sample(folder, len(entries), recent)
                    entries.append({
                        **entry,
                        "source": number,
                        "frames": list(range(first, index + 1)),
                        "frame_names": [source.frame_name(k) for k in range(first, index + 1)],
                        "motion": round(candidate.motion, 6),
                        "stratum": stratum,
                    })
        manifest = {
            "vfi": vfi.__version__,
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "preprocessing": "RGB float32 [1,3,H,W] in [0, 1] as the runtime converts input "
            "(vfi.frames.images.read_rgb, vfi.frames.video_frames.video_frame_rgb)"
            + (f", then averaged over {downscale}x{downscale} blocks" if downscale > 1 else ""),
            "frames_per_sample": frames,
            "downscale": downscale,
            "motion_measure": (
                f"mean |luma(next) - luma(frame)| over a sample's consecutive frames, on block-averaged thumbnails "
                f"of about {THUMBNAIL_ROWS} rows (vfi.frames.thumbnails.thumbnail), in [0, 1]"
            ),
            "duplicates": (
                f"a sample whose thumbnails, quantised to {DUPLICATE_LEVELS} levels, equal an earlier sample's "
                "is dropped"
            ),
            "seed": seed,
            "samples_requested": samples,
            "strata": strata,
            "counts": {
                "frames": sum(s["frames"] for s in stats),
                "windows": sum(s["windows"] for s in stats),
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
            "samples": entries,
        }
        write_manifest(folder, manifest)
    return manifest
