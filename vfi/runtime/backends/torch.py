"""The torch backend: a registered model in PyTorch, on the CPU or a CUDA GPU, fp32 or fp16."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vfi.runtime.backends.base import Backend, BackendError, check_module_io, require_file

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16}


class TorchBackend(Backend):
    name = "torch"

    def __init__(
        self,
        model: str,
        *,
        weights: str | Path | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        threads: int | None = None,
        seed: int = 0,
    ):
        from vfi.models import get_card

        self.card = get_card(model)
        self.model_name = self.card.name
        self.arbitrary_t = self.card.arbitrary_t
        self.min_size = self.card.min_size
        self.weights = require_file(weights, "weights") if weights is not None else None
        if device not in ("cpu", "cuda"):
            raise BackendError(f"unknown device {device!r} for the torch backend; choose cpu or cuda")
        if precision not in PRECISIONS:
            raise BackendError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        if precision == "fp16" and device != "cuda":
            raise BackendError("--precision fp16 runs on a GPU: add --device cuda")
        self.device, self.dtype, self.threads, self.seed = device, PRECISIONS[precision], threads, seed
        self.module: torch.nn.Module | None = None

    def activate(self) -> None:
        from vfi.models import build
        from vfi.models.weights import load_weights

        if self.device == "cuda" and not torch.cuda.is_available():
            raise BackendError(
                f"--device cuda needs a CUDA GPU and a CUDA build of torch; torch {torch.__version__} here "
                "reports no CUDA device"
            )
        if self.threads:
            torch.set_num_threads(self.threads)
        module = build(self.card, self.seed)
        check_module_io(self.card, module)
        if self.weights is not None:
            load_weights(module, self.card, self.weights)
        self.module = module.to(self.device, self.dtype).eval()

    def infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray:
        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array).to(self.device, self.dtype, non_blocking=True)

        args = (tensor(frame0), tensor(frame1)) + ((tensor(t),) if self.arbitrary_t else ())
        with torch.inference_mode():
            output = self.module(*args)
        return output.float().cpu().numpy()

    def close(self) -> None:
        self.module = None
        if self.device == "cuda":
            torch.cuda.empty_cache()
