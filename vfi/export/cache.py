"""Exported ONNX files cached in the user's cache folder, so the default path of `vfi interpolate`
(a registered model in ONNX Runtime) exports a model once, not on every run.

The key is everything the exported graph depends on: the model's name, its weights (the
checkpoint's SHA-256, or the seed of random weights), the vfi version, the opset, and a digest of
the Python sources that define the graphs (models, ops, exporter), so an edited checkout never
runs a stale file. Files are written to a temporary sibling and renamed into place: two runs that
export the same key at once both produce a complete file, and the later rename wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import vfi
from vfi.fileio import write_atomically
from vfi.plugins.native import cache_root
from vfi.plugins.onnx_function import OPSET

PACKAGE = Path(vfi.__file__).resolve().parent
# The packages whose code becomes the exported graph.
GRAPH_SOURCES = ("models", "plugins", "export")


@cache
def sources_digest() -> str:
    digest = hashlib.sha256()
    for folder in GRAPH_SOURCES:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def export_key(model: str, weights_identity: str, opset: int = OPSET) -> dict:
    return {"model": model, "weights": weights_identity, "vfi": vfi.__version__, "opset": opset, "sources": sources_digest()}


def cached_path(key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root() / "onnx" / f"{key['model']}-{digest}.onnx"


def cached_export(model: str, weights: str | Path | None = None, seed: int = 0, opset: int = OPSET,
                  before_export: Callable[[Path], None] | None = None) -> tuple[Path, bool]:
    """The cached ONNX export of the registered `model` with `weights` (or seeded random ones),
    exporting it first when missing (after calling `before_export` with the path: an export takes
    seconds to a minute, worth announcing and worth checks that can fail first); returns (path,
    whether it was exported now)."""
    from vfi.models import get_card
    from vfi.models.weights import random_weights_identity
    from vfi.fileio import sha256_of

    name = get_card(model).name
    identity = sha256_of(weights) if weights is not None else random_weights_identity(seed)
    path = cached_path(export_key(name, identity, opset))
    if path.is_file():
        return path, False
    from vfi.export.model import export_model

    if before_export is not None:
        before_export(path)
    write_atomically(path, export_model(name, weights, seed, opset).SerializeToString())
    return path, True
