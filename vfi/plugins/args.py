"""Argument validation and the dtype policy shared by the ops' public functions and references."""

from __future__ import annotations

import torch

SUPPORTED_DTYPES = (torch.float16, torch.float32, torch.float64)


def compute_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """float64 when any input is float64 (gradcheck, fp64 references), else float32: half inputs
    are accumulated in float32, as the kernels do."""
    if any(t is not None and t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def check_tensor(op: str, name: str, tensor, rank: int, layout: str) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{op}: {name} must be a tensor of shape [{layout}], got {type(tensor).__name__}")
    if tensor.dim() != rank:
        raise ValueError(
            f"{op}: {name} must have shape [{layout}] (rank {rank}), got shape {list(tensor.shape)}"
        )
    if tensor.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"{op}: {name} must be float16, float32 or float64, got {tensor.dtype}")


def check_dims(op: str, name: str, tensor: torch.Tensor, expected: dict[int, int], layout: str) -> None:
    """`expected` maps dimension index -> required size; the message shows the whole layout."""
    for dim, size in expected.items():
        if tensor.shape[dim] != size:
            want = [expected.get(d, "*") for d in range(tensor.dim())]
            raise ValueError(
                f"{op}: {name} must have shape [{layout}] = {want}, got {list(tensor.shape)}"
            )


def check_same_device_and_dtype(op: str, **tensors: torch.Tensor | None) -> None:
    present = {k: t for k, t in tensors.items() if t is not None}
    devices = {t.device for t in present.values()}
    dtypes = {t.dtype for t in present.values()}
    if len(devices) > 1:
        raise ValueError(f"{op}: all tensors must be on one device, got " + _describe(present, "device"))
    if len(dtypes) > 1:
        raise ValueError(f"{op}: all tensors must share one dtype, got " + _describe(present, "dtype"))


def _describe(tensors: dict[str, torch.Tensor], attr: str) -> str:
    return ", ".join(f"{k}={getattr(t, attr)}" for k, t in tensors.items())
