"""Markers that need hardware or data skip with the precise reason they cannot run here."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("VFI_DATA", REPO.parent / "shared" / "data"))


def _gpu_missing() -> str | None:
    import torch

    if not torch.cuda.is_available():
        return f"needs a CUDA GPU: torch {torch.__version__} reports torch.cuda.is_available() == False"
    return None


def _trt_missing() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "needs TensorRT: the `tensorrt` Python package is not installed (pip install 'vfi[trt-cu12]' or 'vfi[trt-cu13]', the CUDA major of the driver)"
    return None


def _data_missing() -> str | None:
    if not (DATA / "README.md").is_file():
        return f"needs the shared test media: {DATA} not found (set VFI_DATA to its folder)"
    return None


_PROBES = {"gpu": _gpu_missing, "trt": _trt_missing, "data": _data_missing}


def pytest_collection_modifyitems(config, items):
    reasons = {}
    for item in items:
        for marker, probe in _PROBES.items():
            if marker in item.keywords:
                if marker not in reasons:
                    reasons[marker] = probe()
                if reasons[marker]:
                    item.add_marker(pytest.mark.skip(reason=reasons[marker]))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def toy_registered(monkeypatch):
    """The toy models, registered for one test (modules opt in with `pytestmark`)."""
    import toy_models
    from vfi.models import MODELS

    for card in toy_models.CARDS:
        monkeypatch.setitem(MODELS, card.name, card)
