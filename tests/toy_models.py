"""Tiny models registered only in the runtime tests: the pipeline's correctness (frame counts,
timestamps, audio, errors) must not depend on a model's quality or speed.

- toy_blend: any t, returns (1 − t)·frame0 + t·frame1, so an output frame's pixels say exactly
  which t it was computed at.
- toy_mid: midpoint only, (frame0 + frame1) / 2, for the bisection schedule.
- toy_nan: returns NaN, for the non-finite output check.

For the Ctrl-C tests, VFI_TOY_DELAY_S (seconds per call) slows them down and VFI_TOY_CALLS names
a file that gets one character per call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from vfi.models import MODELS
from vfi.models.card import ModelCard


def _delay() -> None:
    if os.environ.get("VFI_TOY_CALLS"):
        with open(os.environ["VFI_TOY_CALLS"], "a") as calls:
            calls.write("x")
    time.sleep(float(os.environ.get("VFI_TOY_DELAY_S", "0")))


class Blend(torch.nn.Module):
    def forward(self, frame0, frame1, t):
        _delay()
        t = t.view(-1, 1, 1, 1)
        return frame0 * (1 - t) + frame1 * t


class Mid(torch.nn.Module):
    def forward(self, frame0, frame1):
        _delay()
        return (frame0 + frame1) / 2


class Nan(torch.nn.Module):
    def forward(self, frame0, frame1):
        return frame0 * float("nan")


CARDS = (
    ModelCard("toy_blend", "test model: linear blend at t", Blend, (), 1, True, min_size=1),
    ModelCard("toy_mid", "test model: midpoint blend", Mid, (), 1, False, min_size=1),
    ModelCard("toy_nan", "test model: NaN output", Nan, (), 1, False, min_size=1),
)


def register() -> None:
    MODELS.update({card.name: card for card in CARDS})


def run_vfi(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`vfi ARGS…` in a subprocess, with the toy models registered."""
    repo = str(Path(__file__).resolve().parents[1])  # vfi importable without an install
    path = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path, **(env or {})}
    return subprocess.run(
        [sys.executable, __file__, *args], input=input, capture_output=True, env=environment, timeout=timeout
    )


def leftovers(folder: Path) -> list[str]:
    """Hidden files in `folder`: vfi's temporary outputs are named `.OUTPUT.…`."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


if __name__ == "__main__":  # `python toy_models.py ARGS…` is `vfi ARGS…` with the toy models
    register()
    from vfi.cli import main

    sys.exit(main(sys.argv[1:]))
