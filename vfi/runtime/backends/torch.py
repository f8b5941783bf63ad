"""The torch backend: a registered model in PyTorch, on the CPU or a CUDA GPU, fp32 or fp16."""

from __future__ import annotations

import numpy as np
import torch

from vfi.runtime.backends.base import Backend, BackendError, check_module_io
from vfi.runtime.backends.configs import TorchConfig

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, config: TorchConfig):
        from vfi.models import get_card

        self.config = config
        self.card = get_card(config.model)
        self.model_name = self.card.name
        self.arbitrary_t = self.card.arbitrary_t
        self.min_size = self.card.min_size
        self.device, self.dtype = config.device, DTYPES[config.dtype]
        self.module: torch.nn.Module | None = None

    def _activate(self) -> None:
        from vfi.models import build
        from vfi.models.weights import load_weights

        if self.device == "cuda" and not torch.cuda.is_available():
            raise BackendError(
                f"--device cuda needs a CUDA GPU and a CUDA build of torch; torch {torch.__version__} here "
                "reports no CUDA device"
            )
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        module = build(self.card, self.config.seed)
        check_module_io(self.card, module)
        if self.config.weights is not None:
            load_weights(module, self.card, self.config.weights)
        self.module = module.to(self.device, self.dtype).eval()

    def _infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray:
        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array).to(self.device, self.dtype, non_blocking=True)

        args = (tensor(frame0), tensor(frame1)) + ((tensor(t),) if self.arbitrary_t else ())
        with torch.inference_mode():
            output = self.module(*args)
        return output.float().cpu().numpy()

    def _close(self) -> None:
        self.module = None
        if self.device == "cuda":
            torch.cuda.empty_cache()
