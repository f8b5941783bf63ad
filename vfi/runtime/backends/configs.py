"""One typed configuration per backend, validated when it is made: a config that exists names
files that exist and options that go together, so the backends take it as it is.

`backend_config` turns the CLI's and `vfi.Interpolator`'s flat options into the config of the one
backend they select, and names the option that does not belong to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vfi.runtime.backends.base import BackendError, require_file

BACKENDS = ("torch", "ort", "trt")
DEVICES = ("cpu", "cuda")
# The torch backend's compute dtypes (`vfi interpolate --dtype`); an ONNX file or an engine carries
# the precision it was exported or built with.
TORCH_DTYPES = ("fp32", "fp16")
# `--provider` names and the ONNX Runtime execution providers they select.
ORT_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def _optional_file(path: str | Path | None, what: str) -> Path | None:
    return require_file(path, what) if path is not None else None


def check_threads(threads: int | None) -> None:
    if threads is not None and threads < 1:
        raise BackendError(f"--threads must be at least 1, got {threads}")


@dataclass(frozen=True)
class TorchConfig:
    """A registered model in PyTorch."""

    model: str
    weights: Path | None = None  # None: seeded random weights
    device: str = "cpu"
    dtype: str = "fp32"
    threads: int | None = None  # None: PyTorch's default
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "weights", _optional_file(self.weights, "weights"))
        if self.device not in DEVICES:
            raise BackendError(f"unknown device {self.device!r} for the torch backend; choose cpu or cuda")
        if self.dtype not in TORCH_DTYPES:
            raise BackendError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(TORCH_DTYPES)}")
        if self.dtype == "fp16" and self.device != "cuda":
            raise BackendError("--dtype fp16 runs on a GPU: add --device cuda")
        check_threads(self.threads)


@dataclass(frozen=True)
class OrtConfig:
    """An ONNX file in ONNX Runtime."""

    onnx: Path
    device: str = "cpu"
    provider: str | None = None  # None: cuda on --device cuda, else cpu
    plugins: Path | None = None  # our TensorRT plugin library, for the tensorrt provider
    threads: int | None = None  # intra-op threads per stream; None: ONNX Runtime's default
    streams: int = 1  # concurrent session runs, each on its share of a batch

    def __post_init__(self):
        object.__setattr__(self, "onnx", require_file(self.onnx, "ONNX"))
        if self.device not in DEVICES:
            raise BackendError(f"unknown device {self.device!r} for the ort backend; choose cpu or cuda")
        provider = self.provider or ("cuda" if self.device == "cuda" else "cpu")
        if provider not in ORT_PROVIDERS:
            raise BackendError(f"unknown ONNX Runtime provider {provider!r}; choose one of {', '.join(ORT_PROVIDERS)}")
        if self.device == "cpu" and provider != "cpu":
            raise BackendError(f"the {provider} execution provider runs on a GPU: add --device cuda")
        if self.plugins is not None and provider != "tensorrt":
            raise BackendError("--plugins is handed to the TensorRT execution provider: add --provider tensorrt")
        object.__setattr__(self, "provider", provider)
        object.__setattr__(self, "plugins", _optional_file(self.plugins, "TensorRT plugin library"))
        check_threads(self.threads)
        if self.streams < 1:
            raise BackendError(f"--streams must be at least 1, got {self.streams}")


@dataclass(frozen=True)
class TrtConfig:
    """A TensorRT engine built by `vfi build`."""

    engine: Path
    plugins: Path | None = None  # None: the library in vfi's build cache, when the engine needs one

    def __post_init__(self):
        object.__setattr__(self, "engine", require_file(self.engine, "TensorRT engine"))
        object.__setattr__(self, "plugins", _optional_file(self.plugins, "TensorRT plugin library"))


BackendConfig = TorchConfig | OrtConfig | TrtConfig


def backend_config(
    backend: str | None = None,
    *,
    model: str | None = None,
    weights: str | Path | None = None,
    onnx: str | Path | None = None,
    engine: str | Path | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
    provider: str | None = None,
    plugins: str | Path | None = None,
    threads: int | None = None,
    streams: int = 1,
    seed: int = 0,
) -> BackendConfig:
    """The config for exactly one of `model` (a registered name), `onnx` (a file) or `engine` (a
    TensorRT engine); `backend` defaults to torch, ort and trt respectively."""
    sources = [name for name, value in (("model", model), ("onnx", onnx), ("engine", engine)) if value is not None]
    if len(sources) != 1:
        raise BackendError(f"give exactly one of --model, --onnx, --engine (got {', '.join(sources) or 'none'})")
    backend = backend or {"model": "torch", "onnx": "ort", "engine": "trt"}[sources[0]]
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if weights is not None and model is None:
        raise BackendError("--weights goes with --model (an ONNX file or engine carries its weights)")
    if dtype != "fp32" and backend != "torch":
        raise BackendError(
            f"--dtype {dtype} applies to the torch backend; an ONNX file or engine has its precision "
            "from export (`vfi export --precision`)"
        )
    if streams != 1 and backend != "ort":
        raise BackendError(f"--streams applies to the ort backend, not {backend}")
    if backend == "torch":
        if model is None:
            raise BackendError("the torch backend runs registered models: pass --model NAME (see `vfi models`)")
        return TorchConfig(model, weights, device, dtype, threads, seed)
    if backend == "ort":
        if engine is not None:
            raise BackendError("the ort backend runs ONNX files, not TensorRT engines: use --backend trt with --engine")
        if onnx is None:
            raise BackendError("the ort backend runs ONNX files: pass --onnx FILE (vfi.Interpolator exports a registered "
                               "model itself, once, into vfi's cache)")
        return OrtConfig(Path(onnx), device, provider, plugins, threads, streams)
    if engine is None:
        raise BackendError("the trt backend runs engines: pass --engine FILE (build one with `vfi build MODEL.onnx -o FILE`)")
    return TrtConfig(Path(engine), plugins)
