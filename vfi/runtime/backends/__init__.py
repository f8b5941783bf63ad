"""Inference backends: one small interface over PyTorch, ONNX Runtime and TensorRT.

A backend is made from its typed config (vfi.runtime.backends.configs: TorchConfig, OrtConfig,
TrtConfig, each validated when made; `backend_config` builds one from flat options), cheaply: it
checks its files and names what is wrong. It is `activate()`d once (loads the model, session or engine and allocates memory; fails with one clear
line when a dependency is missing), called with `infer()` on batches, and `close()`d.

`infer(frame0, frame1, t)` takes float32 NCHW RGB arrays in [0, 1] of the same shape [N, 3, H, W]
and, for models that take any t (`arbitrary_t`), a float32 array `t` of shape [N] (None for the
others, which return the midpoint). It returns float32 [N, 3, H, W], unclamped: the caller clamps
and rounds. Frames smaller than `min_size` are the caller's to pad.
"""

from __future__ import annotations

from vfi.runtime.backends.base import (  # the interface, re-exported as the package's public names
    FRAME_INPUTS,
    OUTPUT,
    TIME_INPUT,
    Backend,
    BackendError,
    check_io,
    check_module_io,
    import_dependency,
    require_file,
)
from vfi.runtime.backends.configs import (
    BACKENDS,
    BackendConfig,
    OrtConfig,
    TorchConfig,
    TrtConfig,
    backend_config,
)

__all__ = [
    "BACKENDS", "FRAME_INPUTS", "OUTPUT", "TIME_INPUT", "Backend", "BackendConfig", "BackendError", "OrtConfig",
    "TorchConfig", "TrtConfig", "backend_config", "check_io", "check_module_io", "import_dependency", "open_backend",
    "require_file",
]


def open_backend(config: BackendConfig) -> Backend:
    """The (not yet active) backend `config` describes; each backend imports its dependencies
    only here. (vfi.Interpolator chooses the backend and settings for the machine first:
    vfi.runtime.choice.)"""
    if isinstance(config, TorchConfig):
        from vfi.runtime.backends.torch import TorchBackend

        return TorchBackend(config)
    if isinstance(config, OrtConfig):
        from vfi.runtime.backends.ort import OrtBackend

        return OrtBackend(config)
    if isinstance(config, TrtConfig):
        from vfi.runtime.backends.trt import TrtBackend

        return TrtBackend(config)
    raise TypeError(f"not a backend config: {config!r}")
