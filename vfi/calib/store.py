"""The calibration store: a folder of samples of consecutive frames (`sample_NNNN.npz`, arrays
`frame0`, `frame1`, …, float32 [1,3,H,W] in [0, 1] exactly as the runtime feeds models: two per
sample for the frame-pair models, three or four, downscaled, for DSFN) and `manifest.json`
describing where each sample came from. A store is written to a temporary folder renamed only when
complete."""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.fileio import replaced_on_success, sha256_of

FORMAT = "vfi-calib/2"  # 1: frame pairs only (pair_NNNN.npz, "pairs")
MANIFEST = "manifest.json"


class CalibStoreError(VfiError):
    """A calibration folder that is missing, incomplete or corrupt."""


def sample_file_name(index: int) -> str:
    return f"sample_{index:04d}.npz"


def frame_names(count: int) -> list[str]:
    return [f"frame{k}" for k in range(count)]


@contextlib.contextmanager
def new_store(folder: str | Path) -> Iterator[Path]:
    """A temporary folder beside `folder` to fill; renamed to `folder` when the block succeeds.

    `folder` must not exist yet or be empty, so no earlier data is lost or mixed in."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CalibStoreError(f"{folder}: already exists and is not an empty folder; choose a new output folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with replaced_on_success(folder, folder=True) as tmp:
        yield tmp


def write_sample(folder: Path, index: int, frames: list[np.ndarray]) -> dict:
    """Write one sample; returns its manifest entry fields (file, sha256, shape)."""
    name = sample_file_name(index)
    np.savez_compressed(folder / name, **dict(zip(frame_names(len(frames)), frames)))
    return {"file": name, "sha256": sha256_of(folder / name), "shape": list(frames[0].shape)}


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps({"format": FORMAT, **manifest}, indent=2) + "\n")


def read_manifest(folder: str | Path) -> dict:
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise CalibStoreError(f"{folder}: not a calibration folder (no {MANIFEST}); create one with `vfi calib collect`")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibStoreError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise CalibStoreError(
            f"{path}: not a {FORMAT} manifest" + (f" ({found}: collect the folder again)" if found else "")
        )
    if not manifest.get("samples"):
        raise CalibStoreError(f"{path}: lists no samples")
    return manifest


def load_sample(folder: str | Path, entry: dict) -> dict[str, np.ndarray]:
    """The sample a manifest `entry` lists, as {"frame0": …, "frame1": …, …}, checked against the
    SHA-256 and shape the manifest records."""
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise CalibStoreError(f"{path}: missing (listed in {Path(folder) / MANIFEST})")
    if sha256_of(path) != entry["sha256"]:
        raise CalibStoreError(f"{path}: SHA-256 differs from the manifest; the file changed or is corrupt")
    try:
        with np.load(path) as arrays:
            sample = {name: arrays[name] for name in frame_names(len(entry["frames"]))}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CalibStoreError(f"{path}: not a readable sample of {len(entry['frames'])} frames ({exc})") from exc
    for name, array in sample.items():
        if array.dtype != np.float32 or list(array.shape) != entry["shape"]:
            raise CalibStoreError(
                f"{path}: {name} is {array.dtype} {list(array.shape)}, the manifest says float32 {entry['shape']}"
            )
    return sample


def store_digest(folder: str | Path) -> str:
    """One SHA-256 for the whole store (its manifest), recorded in models calibrated from it."""
    return sha256_of(Path(folder) / MANIFEST)
