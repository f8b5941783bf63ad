"""The custom ops. OPS is the registry every layer and every parity test iterates over."""

from vfi.plugins import softsplat
from vfi.plugins import sepconv
from vfi.plugins import adacof

OPS = (
    softsplat.OP,
    sepconv.OP,
    adacof.OP,
)


def get_op(name: str):
    """The registered op called `name` (torch name, e.g. "softsplat") or `onnx_op_type`."""
    for op in OPS:
        if name in (op.spec.name, op.spec.onnx_op_type):
            return op
    raise KeyError(f"unknown op {name!r}; known: {', '.join(op.spec.name for op in OPS)}")
