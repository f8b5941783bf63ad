"""Loading official checkpoints and safetensors files, strictly, with errors that name the file."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch

from vfi.errors import VfiError
from vfi.fileio import sha256_of
from vfi.models.card import PLAIN, WRAPPED, ModelCard

_SHOWN = 5  # how many offending keys an error lists


class CheckpointError(VfiError, ValueError):
    """A weights file that cannot be read or does not fit the model."""


def random_weights_identity(seed: int) -> str:
    """What stands in for a checkpoint's SHA-256 (in exported metadata, parity reports) when a
    model has seeded random weights."""
    return f"none (random weights, seed {seed})"


def is_random_weights(identity: str | None) -> bool:
    return identity is not None and identity.startswith("none (random weights")


def read_state_dict(path: str | Path, layout: str) -> dict[str, torch.Tensor]:
    """The tensors of `path` with upstream's key conventions applied (`layout`: PLAIN or WRAPPED)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    try:
        with warnings.catch_warnings():  # about pickle protocols, on files refused or loaded anyway
            warnings.simplefilter("ignore", UserWarning)
            content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, …
        # The first line: torch's weights-only refusals go on for a page about trusting the file.
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {reason})") from exc
    if layout == WRAPPED and isinstance(content, dict) and "state_dict" in content:
        content = content["state_dict"]
    if not isinstance(content, dict) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise CheckpointError(f"{path}: expected a state_dict (a mapping of names to tensors), found {type(content).__name__}")
    if layout == PLAIN:
        # Upstream loads these with key.replace('module', 'net'); a no-op on files already saying net.
        content = {key.replace("module", "net"): value for key, value in content.items()}
    return content


def load_weights(model: torch.nn.Module, card: ModelCard, path: str | Path) -> str:
    """Load `path` into `model` with strict key and shape matching; returns the file's SHA-256."""
    state = read_state_dict(path, card.checkpoint_layout)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mis_shaped = [
        f"{k} (file {list(state[k].shape)}, model {list(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = [
        f"{len(keys)} {what}: {', '.join(keys[:_SHOWN])}{', …' if len(keys) > _SHOWN else ''}"
        for what, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("mis-shaped tensors", mis_shaped))
        if keys
    ]
    if problems:
        raise CheckpointError(f"{path}: not a {card.name} checkpoint: " + "; ".join(problems))
    non_finite = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if non_finite:
        raise CheckpointError(f"{path}: {len(non_finite)} tensors hold NaN or Inf: {', '.join(non_finite[:_SHOWN])}")
    model.load_state_dict(state, strict=True)
    digest = sha256_of(path)
    print(f"loaded {card.name} weights from {path} (sha256 {digest})", file=sys.stderr)
    return digest
