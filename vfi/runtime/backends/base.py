"""The backend interface and the checks every backend shares (see vfi.runtime.backends)."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from vfi.errors import VfiError

# The I/O of a two-frame interpolator; models with other I/O (DSFN) are not run by the runtime.
FRAME_INPUTS = ("frame0", "frame1")
TIME_INPUT = "t"
OUTPUT = "output"


class BackendError(VfiError):
    """A backend that cannot run here, or a model it cannot run."""


class Backend(ABC):
    name: str
    model_name: str = "?"
    arbitrary_t: bool = False
    min_size: int = 1

    @abstractmethod
    def activate(self) -> None: ...

    @abstractmethod
    def infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray: ...

    def close(self) -> None:
        """Release what activate() allocated; safe to call twice."""

    def describe(self) -> str:
        return f"{self.model_name} on {self.name}"


def check_io(source: str, inputs, outputs) -> bool:
    """Whether the model `source` takes t; raise unless its I/O is frame0, frame1[, t] -> output."""
    inputs, outputs = tuple(inputs), tuple(outputs)
    if inputs not in (FRAME_INPUTS, FRAME_INPUTS + (TIME_INPUT,)) or outputs != (OUTPUT,):
        raise BackendError(
            f"{source}: takes ({', '.join(inputs)}) and returns ({', '.join(outputs)}); the runtime runs two-frame "
            "interpolators taking (frame0, frame1[, t]) and returning (output), not models with other I/O such as DSFN"
        )
    return inputs[-1] == TIME_INPUT


def check_module_io(card, module) -> bool:
    """check_io for a registered model's module (models with other I/O declare input_names)."""
    default = FRAME_INPUTS + ((TIME_INPUT,) if card.arbitrary_t else ())
    return check_io(
        f"model {card.name}", getattr(module, "input_names", default), getattr(module, "output_names", (OUTPUT,))
    )


def require_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"{path}: no such {what} file")
    return path


def import_dependency(module: str, backend: str, install: str):
    """`import module`, or one clear line naming what to install for `backend`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendError(f"the {backend} backend needs {module}, which cannot be imported here ({exc}); {install}") from exc
