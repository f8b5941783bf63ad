"""Helpers shared by the model tests: the official state_dict manifests
(`../shared/checkpoints/*.json`), official-format state_dicts synthesised from them, and seeded
frame pairs. Imported by the test modules beside it (pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vfi.models import MODELS

CHECKPOINTS = Path(__file__).resolve().parents[2].parent / "shared" / "checkpoints"


def official_manifest(name: str) -> dict:
    """The manifest of model `name`'s official checkpoint; skips the test when it is absent."""
    path = CHECKPOINTS / f"{MODELS[name].checkpoint_manifest}.json"
    if not path.is_file():
        pytest.skip(f"needs the official state_dict manifest {path}")
    return json.loads(path.read_text())


def state_shapes(model: torch.nn.Module) -> dict[str, list[int]]:
    """key -> shape of every state_dict entry, in the model's order."""
    return {key: list(value.shape) for key, value in model.state_dict().items()}


def synthesised_state(manifest: dict, scale: float, seed: int = 1) -> dict[str, torch.Tensor]:
    """Seeded normal tensors of `scale` with exactly the manifest's keys and shapes."""
    generator = torch.Generator().manual_seed(seed)
    return {key: torch.randn(shape, generator=generator) * scale for key, shape in manifest["state_dict"].items()}


def frames(height: int, width: int, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(batch, 3, height, width, generator=generator) for _ in range(2))
