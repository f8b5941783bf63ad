"""The calibration store: a folder of frame pairs (`pair_NNNN.npz`, arrays `frame0` and `frame1`,
float32 [1,3,H,W] in [0, 1] exactly as the runtime feeds models) and `manifest.json` describing
where each pair came from. A store is written to a temporary folder renamed only when complete."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.fileio import temporary_sibling_folder
from vfi.models.weights import sha256_of

FORMAT = "vfi-calib/1"
MANIFEST = "manifest.json"


class CalibStoreError(VfiError):
    """A calibration folder that is missing, incomplete or corrupt."""


def pair_file_name(index: int) -> str:
    return f"pair_{index:04d}.npz"


@contextlib.contextmanager
def new_store(folder: str | Path) -> Iterator[Path]:
    """A temporary folder beside `folder` to fill; renamed to `folder` when the block succeeds.

    `folder` must not exist yet or be empty, so no earlier data is lost or mixed in."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CalibStoreError(f"{folder}: already exists and is not an empty folder; choose a new output folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling_folder(folder)
    try:
        yield tmp
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_pair(folder: Path, index: int, frame0: np.ndarray, frame1: np.ndarray) -> dict:
    """Write one pair; returns its manifest entry fields (file, sha256, shape)."""
    name = pair_file_name(index)
    np.savez_compressed(folder / name, frame0=frame0, frame1=frame1)
    return {"file": name, "sha256": sha256_of(folder / name), "shape": list(frame0.shape)}


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
        raise CalibStoreError(f"{path}: not a {FORMAT} manifest")
    if not manifest.get("pairs"):
        raise CalibStoreError(f"{path}: lists no frame pairs")
    return manifest


def load_pair(folder: str | Path, entry: dict) -> dict[str, np.ndarray]:
    """The pair a manifest `entry` lists, as {"frame0": …, "frame1": …}, checked against the
    SHA-256 and shape the manifest records."""
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise CalibStoreError(f"{path}: missing (listed in {Path(folder) / MANIFEST})")
    if sha256_of(path) != entry["sha256"]:
        raise CalibStoreError(f"{path}: SHA-256 differs from the manifest; the file changed or is corrupt")
    try:
        with np.load(path) as arrays:
            pair = {name: arrays[name] for name in ("frame0", "frame1")}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CalibStoreError(f"{path}: not a readable frame pair ({exc})") from exc
    for name, array in pair.items():
        if array.dtype != np.float32 or list(array.shape) != entry["shape"]:
            raise CalibStoreError(
                f"{path}: {name} is {array.dtype} {list(array.shape)}, the manifest says float32 {entry['shape']}"
            )
    return pair


def store_digest(folder: str | Path) -> str:
    """One SHA-256 for the whole store (its manifest), recorded in models calibrated from it."""
    return sha256_of(Path(folder) / MANIFEST)
