"""The two sides of a parity comparison: a backend plus what the report says about it, and the
PSNR threshold the candidate must reach (OPS.md's, or its model card's for INT8)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vfi.parity.pairs import ParityError


# Whole-model PSNR against the fp32 PyTorch reference on [0, 1] output (../shared/OPS.md, "Tolerances").
PSNR_THRESHOLDS_DB = {"fp32": 60.0, "fp16": 45.0}


@dataclass
class Runner:
    """A backend and what the report says about it."""

    label: str  # as given on the command line
    kind: str  # torch, ort or trt
    precision: str
    model: str | None  # the registered model it runs, when known
    weights: str | None  # checkpoint SHA-256 or "none (random weights, seed N)", when known
    backend: object = field(repr=False)
    quantizer: str | None = None  # INT8: the quantizer that made the file (vfi.export.quantize.QUANTIZERS)

    def describe(self) -> dict:
        described = {"label": self.label, "backend": self.kind, "precision": self.precision, "model": self.model, "weights": self.weights}
        if self.quantizer is not None:
            described["quantizer"] = self.quantizer
        return described


def open_runner(spec: str, *, weights=None, seed: int = 0, plugins=None, device: str = "cpu", provider=None, threads=None) -> Runner:
    """The runner for `spec`: a registered model name (PyTorch), an .onnx file (ONNX Runtime) or
    an .engine file (TensorRT)."""
    from vfi.runtime.backends import OrtConfig, TorchConfig, TrtConfig, open_backend

    path = Path(spec)
    if path.suffix == ".onnx":
        from vfi.export.artifact import ArtifactInfo

        info = ArtifactInfo.from_metadata(_onnx_metadata(path))
        backend = open_backend(OrtConfig(path, device=device, provider=provider, threads=threads))
        return Runner(spec, "ort", info.precision.value, info.model, info.checkpoint_sha256, backend, info.quantizer)
    if path.suffix in (".engine", ".plan"):
        from vfi.export.engine_sidecar import read_sidecar

        sidecar = read_sidecar(path)
        # One --plugins serves both runners: only an engine built with a plugin library gets it (an
        # engine built without would fail its sidecar check with it).
        backend = open_backend(TrtConfig(path, plugins=plugins if sidecar["plugin_sha256"] else None))
        return Runner(spec, "trt", sidecar["precision"], sidecar.get("model"), sidecar.get("checkpoint_sha256"), backend,
                      sidecar.get("quantizer"))
    from vfi.models.weights import random_weights_identity
    from vfi.fileio import sha256_of

    backend = open_backend(TorchConfig(spec, weights=weights, device=device, threads=threads, seed=seed))
    identity = sha256_of(weights) if weights is not None else random_weights_identity(seed)
    return Runner(spec, "torch", "fp32", spec, identity, backend)


def _onnx_metadata(path: Path) -> dict[str, str]:
    import onnx

    from vfi.export.graph import metadata

    if not path.is_file():
        raise ParityError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, … on a damaged file
        raise ParityError(f"{path}: not a readable ONNX file ({exc})") from exc
    return metadata(model)


def check_comparable(reference: Runner, candidate: Runner) -> None:
    """Both runners must hold the same model and weights where they say which."""
    for what in ("model", "weights"):
        ref, cand = getattr(reference, what), getattr(candidate, what)
        if ref is not None and cand is not None and ref != cand:
            raise ParityError(f"the runners hold different {what}: {reference.label} has {ref}, {candidate.label} has {cand}")


def threshold_for(candidate: Runner, reference: Runner) -> tuple[float | None, str]:
    """The candidate's PSNR threshold and where it comes from (None: no threshold applies)."""
    from vfi.models import MODELS
    from vfi.models.weights import is_random_weights

    if reference.precision != "fp32":
        return None, f"no threshold: the reference is {reference.precision}, not fp32"
    card = MODELS.get(candidate.model or reference.model or "")
    if card is None:
        return None, "no threshold: the model has no card"
    if candidate.precision == "int8":
        # ModelOpt quantizes more of the graph than the `ort` quantizer, so it has its own threshold.
        name = "int8_modelopt_psnr_threshold_db" if candidate.quantizer == "modelopt" else "int8_psnr_threshold_db"
        if getattr(card, name) is None:
            return None, f"no threshold: model card {card.name} sets no {name}"
        if not is_random_weights(candidate.weights or reference.weights):
            return None, (
                f"no PSNR threshold: {name} of model card {card.name} was measured with seeded random "
                "weights, not with a checkpoint"
            )
        return getattr(card, name), f"{name} of model card {card.name}"
    return PSNR_THRESHOLDS_DB[candidate.precision], f"{candidate.precision} parity threshold (OPS.md) for {card.name}"
