"""What the registry holds for one op: its spec and its implementations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from onnx import FunctionProto

from vfi.plugins.spec import OpSpec


def _no_overload(attrs: dict) -> str:
    return ""


@dataclass(frozen=True)
class StandardOnnx:
    """An op whose ONNX representation is a standard node rather than a `vfi::` node."""

    translation: Callable  # the exporter's translation of the torch op (onnxscript)
    node: Callable  # (input names in the spec's order, "" where absent; output name; attrs) -> NodeProto


@dataclass(frozen=True)
class Op:
    spec: OpSpec
    reference: Callable  # pure PyTorch, differentiable: the ground truth
    function: Callable  # public, validating; calls torch_op
    torch_op: object  # torch.library custom op `torch.ops.vfi.<name>`
    onnx_functions: Callable[[], list[FunctionProto]]  # every function body (all overloads); none for standard_onnx
    onnx_overload: Callable[[dict], str] = _no_overload  # which body a node's attributes select
    standard_onnx: StandardOnnx | None = None  # None: a `vfi::` node with function bodies

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def native(self) -> bool:
        """Whether the op has CUDA C++ of its own (kernels, TensorRT plugin): its folder's csrc/."""
        return (Path(__file__).parent / self.name / "csrc").is_dir()

    def output_shape(self, inputs: tuple, attrs: dict) -> tuple:
        """The output's shape for these inputs, from the op's fake (meta) implementation, which
        also validates them."""
        return tuple(self.function(*(None if t is None else t.to("meta") for t in inputs), **attrs).shape)
