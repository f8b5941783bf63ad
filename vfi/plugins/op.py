"""What the registry holds for one op: its spec and its implementations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from onnx import FunctionProto

from vfi.plugins.spec import OpSpec


def _no_overload(attrs: dict) -> str:
    return ""


@dataclass(frozen=True)
class Op:
    spec: OpSpec
    reference: Callable  # pure PyTorch, differentiable: the ground truth
    function: Callable  # public, validating; calls torch_op
    torch_op: object  # torch.library custom op `torch.ops.vfi.<name>`
    onnx_functions: Callable[[], list[FunctionProto]]  # every function body (all overloads)
    onnx_overload: Callable[[dict], str] = _no_overload  # which body a node's attributes select

    @property
    def name(self) -> str:
        return self.spec.name

    def output_shape(self, inputs: tuple, attrs: dict) -> tuple:
        """The output's shape for these inputs, from the op's fake (meta) implementation, which
        also validates them."""
        return tuple(self.function(*(None if t is None else t.to("meta") for t in inputs), **attrs).shape)
