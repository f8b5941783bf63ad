"""The custom ops. OPS is the registry every layer and every parity test iterates over; a new op
is its folder (spec, reference, torch op, ONNX representation, README, and csrc/ where it has
CUDA C++) plus its line in OPS. NATIVE_OPS are those with csrc/: kernels and a TensorRT plugin."""

import functools

import torch

from vfi.plugins import softsplat
from vfi.plugins import sepconv
from vfi.plugins import adacof
from vfi.plugins import deform_conv

OPS = (
    softsplat.OP,
    sepconv.OP,
    adacof.OP,
    deform_conv.OP,
)
NATIVE_OPS = tuple(op for op in OPS if op.native)


def get_op(name: str):
    """The registered op called `name` (torch name, e.g. "softsplat") or `onnx_op_type`."""
    for op in OPS:
        if name in (op.spec.name, op.spec.onnx_op_type):
            return op
    raise KeyError(f"unknown op {name!r}; known: {', '.join(op.spec.name for op in OPS)}")


@functools.lru_cache(maxsize=None)
def sample_reference(op_name: str, case_name: str, inputs_dtype: torch.dtype, compute_dtype: torch.dtype):
    """The reference on a sample case's inputs in `inputs_dtype`, computed in `compute_dtype`:
    cached, because the large cases take seconds and every layer compares with the same values."""
    op = get_op(op_name)
    case = next(c for c in op.spec.sample_cases() if c.name == case_name)
    inputs = tuple(None if t is None else t.to(compute_dtype) for t in case.inputs(inputs_dtype))
    return op.reference(*inputs, **case.attrs)
