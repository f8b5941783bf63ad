"""Inference backends: one small interface over PyTorch, ONNX Runtime and TensorRT.

A backend is constructed cheaply (it checks its files and options and names what is wrong),
`activate()`d once (loads the model, session or engine and allocates memory; fails with one clear
line when a dependency is missing), called with `infer()` on batches, and `close()`d.

`infer(frame0, frame1, t)` takes float32 NCHW RGB arrays in [0, 1] of the same shape [N, 3, H, W]
and, for models that take any t (`arbitrary_t`), a float32 array `t` of shape [N] (None for the
others, which return the midpoint). It returns float32 [N, 3, H, W], unclamped: the caller clamps
and rounds. Frames smaller than `min_size` are the caller's to pad.
"""

from __future__ import annotations

from pathlib import Path

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

BACKENDS = ("torch", "ort", "trt")
__all__ = [
    "BACKENDS", "FRAME_INPUTS", "OUTPUT", "TIME_INPUT", "Backend", "BackendError",
    "check_io", "check_module_io", "import_dependency", "open_backend", "require_file",
]


def open_backend(
    backend: str | None = None,
    *,
    model: str | None = None,
    weights: str | Path | None = None,
    onnx: str | Path | None = None,
    engine: str | Path | None = None,
    device: str = "cpu",
    precision: str = "fp32",
    provider: str | None = None,
    plugins: str | Path | None = None,
    threads: int | None = None,
    streams: int = 1,
    seed: int = 0,
) -> Backend:
    """The backend for exactly one of `model` (a registered name), `onnx` (a file) or `engine` (a
    TensorRT engine); `backend` defaults to torch, ort and trt respectively. (vfi.Interpolator
    chooses the backend and settings for the machine first: vfi.runtime.choice.)"""
    sources = [name for name, value in (("model", model), ("onnx", onnx), ("engine", engine)) if value is not None]
    if len(sources) != 1:
        raise BackendError(f"give exactly one of --model, --onnx, --engine (got {', '.join(sources) or 'none'})")
    backend = backend or {"model": "torch", "onnx": "ort", "engine": "trt"}[sources[0]]
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if weights is not None and model is None:
        raise BackendError("--weights goes with --model (an ONNX file or engine carries its weights)")
    if precision != "fp32" and backend != "torch":
        raise BackendError(
            f"--precision {precision} applies to the torch backend; an ONNX file or engine has its precision "
            "from export (`vfi export --precision`)"
        )
    if streams != 1 and backend != "ort":
        raise BackendError(f"--streams applies to the ort backend, not {backend}")
    if backend == "torch":
        if model is None:
            raise BackendError("the torch backend runs registered models: pass --model NAME (see `vfi models`)")
        from vfi.runtime.backends.torch import TorchBackend

        return TorchBackend(model, weights=weights, device=device, precision=precision, threads=threads, seed=seed)
    if backend == "ort":
        if engine is not None:
            raise BackendError("the ort backend runs ONNX files, not TensorRT engines: use --backend trt with --engine")
        if onnx is None:
            raise BackendError("the ort backend runs ONNX files: pass --onnx FILE (vfi.Interpolator exports a registered "
                               "model itself, once, into vfi's cache)")
        from vfi.runtime.backends.ort import OrtBackend

        return OrtBackend(onnx, device=device, provider=provider, plugins=plugins, threads=threads, streams=streams)
    if engine is None:
        raise BackendError("the trt backend runs engines: pass --engine FILE (build one with `vfi build MODEL.onnx -o FILE`)")
    from vfi.runtime.backends.trt import TrtBackend

    return TrtBackend(engine, plugins=plugins)
