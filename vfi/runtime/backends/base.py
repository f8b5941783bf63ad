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
    """activate() once, infer() while active, close() (safe twice, and after a failed activate):
    the public methods check the state and the batch, then call the backend's implementations."""

    name: str
    model_name: str = "?"
    arbitrary_t: bool = False
    min_size: int = 1
    active: bool = False

    def activate(self) -> None:
        """Load the model, session or engine and allocate memory."""
        if self.active:
            raise BackendError(f"{self.describe()}: already active; close() it before activating it again")
        try:
            self._activate()
        except BaseException:
            self._close()  # what a half-done activation allocated
            raise
        self.active = True

    def infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray:
        if not self.active:
            raise BackendError(f"{self.describe()}: not active; call activate() first")
        if frame0.ndim != 4 or frame0.shape[1] != 3 or frame0.shape != frame1.shape:
            raise ValueError(f"expected two [N, 3, H, W] batches of one shape, got {frame0.shape} and {frame1.shape}")
        if self.arbitrary_t and (t is None or t.shape != frame0.shape[:1]):
            raise ValueError(f"{self.model_name} takes t: expected an array of shape [{frame0.shape[0]}], got {t if t is None else t.shape}")
        return self._infer(frame0, frame1, t)

    def close(self) -> None:
        """Release what activate() allocated."""
        if self.active:
            self.active = False
            self._close()

    def describe(self) -> str:
        return f"{self.model_name} on {self.name}"

    @abstractmethod
    def _activate(self) -> None: ...

    @abstractmethod
    def _infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray: ...

    @abstractmethod
    def _close(self) -> None: ...


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
