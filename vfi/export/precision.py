"""fp16 variants: an ONNX → ONNX conversion with onnxconverter-common's float16 converter.

What becomes float16: the main graph's float tensors, initializers and constants. The graph's
inputs and outputs stay float32 (a Cast at each) unless `io_dtype` is fp16. The `vfi::` nodes get
float16 I/O, all their inputs and their output one type, which their TensorRT plugins support
(accumulating in fp32). Their local-function bodies are left exactly as they are: the converter
does not descend into model-local functions, and each body casts its inputs to float and its
result back with CastLike, so it runs on float16 I/O unchanged (tests pin both facts).

What stays float32: nodes of the op types in FP32_OPS and in the converter's default block list
(CONVERTER_BLOCKED), with Casts around them, and control-flow nodes (classic's TV-L1 iterations are
a Loop) with their bodies: the converter does not convert a blocked node's body, and the outer
tensors a body reads that the conversion made float16 are handed to it as float32 copies (the
original initializer, or a Cast of a computed tensor). Every such region is listed in the model's
metadata (`vfi.fp32_regions`, JSON) with its reason.
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import onnx
from onnx import TensorProto

from vfi.errors import VfiError
from vfi.export import artifact
from vfi.export.artifact import Precision
from vfi.export.graph import CONTROL_FLOW_OPS, outer_reads, rename_outer_reads, subgraphs, update_metadata
from vfi.plugins.onnx_model import check_model, custom_nodes

# op type -> why its nodes keep float32 I/O.
FP32_OPS = {
    "GridSample": (
        "sampling coordinates: a normalised grid in float16 has a spacing of 2^-11 near ±1, up to half a "
        "pixel at 1920 pixels wide"
    ),
}
# Why nodes on the converter's default block list (kept float32 by it) are best left there.
CONVERTER_BLOCKED = {
    "Resize": (
        "onnxconverter-common's default block list: its scales input must stay float32 and the converter "
        "cannot convert only the data input"
    ),
    "Range": (
        "onnxconverter-common's default block list; float ranges generate pixel coordinates, which float16 "
        "holds exactly only up to 2048"
    ),
}
CONVERTER_DEFAULT = "onnxconverter-common's default block list"
CONTROL_FLOW = (
    "control flow: onnxconverter-common converts a body without the outer tensors it reads, so the node and "
    "its body run in float32 on float32 copies of them; iterative solvers (classic's TV-L1) also accumulate "
    "float16 rounding over their iterations"
)
IO_DTYPES = ("fp32", "fp16")


class PrecisionError(VfiError):
    pass
_FLOAT_TYPES = {TensorProto.FLOAT: "fp32", TensorProto.FLOAT16: "fp16"}


def to_fp16(model: onnx.ModelProto, io_dtype: str = "fp32") -> onnx.ModelProto:
    """The float16 variant of the float32 `model` (not modified)."""
    from onnxconverter_common import __version__ as converter_version
    from onnxconverter_common.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    if io_dtype not in IO_DTYPES:
        raise ValueError(f"io_dtype must be one of {IO_DTYPES}, got {io_dtype!r}")
    reasons = {
        **{op: CONVERTER_BLOCKED.get(op, CONVERTER_DEFAULT) for op in DEFAULT_OP_BLOCK_LIST},
        **FP32_OPS,
        **{op: CONTROL_FLOW for op in CONTROL_FLOW_OPS},
    }
    types = value_types(model)
    kept = [  # blocked nodes that compute on floats (an integer Range keeps nothing in fp32)
        node for node in model.graph.node
        if node.op_type in reasons and any(types.get(name) == TensorProto.FLOAT for name in [*node.input, *node.output])
    ]
    # The converter retypes tensors but not what a Cast produces: the model's own casts to float
    # must cast to float16 afterwards (the converter's own I/O casts, added later, must not).
    casts = [node for node in model.graph.node if node.op_type == "Cast" and _cast_target(node) == TensorProto.FLOAT]
    unnamed = sorted({node.op_type for node in kept + casts if not node.name})
    if unnamed:
        raise ValueError(f"the conversion tells nodes apart by name; unnamed {', '.join(unnamed)} nodes")
    casts_to_float = {node.name for node in casts}
    with warnings.catch_warnings():
        # One warning per weight below float16's smallest subnormal, which becomes ±1e-7.
        warnings.simplefilter("ignore", UserWarning)
        converted = convert_float_to_float16(
            copy.deepcopy(model),
            max_finite_val=float(np.finfo(np.float16).max),
            keep_io_types=io_dtype == "fp32",
            op_block_list=list(reasons),
        )
    for node in converted.graph.node:
        if node.name in casts_to_float:
            _set_cast_target(node, TensorProto.FLOAT16)
    _feed_bodies_float32(converted, model)
    if io_dtype == "fp32":
        _restore_float_outputs(converted)
    regions = [
        {"op_type": op_type, "nodes": [n.name for n in kept if n.op_type == op_type], "reason": reasons[op_type]}
        for op_type in sorted({n.op_type for n in kept})
    ]
    update_metadata(converted, {
        artifact.PRECISION: Precision.FP16.value,
        artifact.IO_DTYPE: io_dtype,
        artifact.FP32_REGIONS: json.dumps(regions),
        artifact.FP16_CONVERTER: f"onnxconverter-common {converter_version} convert_float_to_float16",
    })
    check_model(converted)
    check_custom_node_types(converted)
    return converted


def _feed_bodies_float32(converted: onnx.ModelProto, original: onnx.ModelProto) -> None:
    """Point the bodies of the converted model's control-flow nodes at float32 copies of the outer
    tensors they read that the conversion made float16: the original float32 initializer (exact),
    or a Cast inserted before the first node whose body reads a computed tensor."""
    if not any(subgraphs(node) for node in converted.graph.node):
        return
    types = value_types(converted)
    originals = {init.name: init for init in original.graph.initializer}
    graph = converted.graph
    copies: dict[str, str] = {}
    nodes = []
    for node in graph.node:
        bodies = subgraphs(node)
        for name in sorted({name for body in bodies for name in outer_reads(body)} - set(copies)):
            if types.get(name) != TensorProto.FLOAT16:
                continue
            copies[name] = f"{name}_fp32_for_body"
            if name in originals:
                exact = graph.initializer.add()
                exact.CopyFrom(originals[name])
                exact.name = copies[name]
            else:
                nodes.append(onnx.helper.make_node("Cast", [name], [copies[name]], f"{name}_cast_for_body", to=TensorProto.FLOAT))
        for body in bodies:
            rename_outer_reads(body, copies)
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)


def _restore_float_outputs(converted: onnx.ModelProto) -> None:
    """Graph outputs float32 again where a blocked node produces one: the converter casts a blocked
    node's outputs to float16 after keeping the graph's I/O float32. Its Cast then casts to float32
    (a no-op on the blocked node's float32 result)."""
    producers = {name: node for node in converted.graph.node for name in node.output}
    for output in converted.graph.output:
        if output.type.tensor_type.elem_type != TensorProto.FLOAT16:
            continue
        cast = producers.get(output.name)
        if cast is None or cast.op_type != "Cast":
            raise PrecisionError(f"graph output {output.name} became float16 and is not produced by a Cast")
        _set_cast_target(cast, TensorProto.FLOAT)
        output.type.tensor_type.elem_type = TensorProto.FLOAT


def _cast_target(node: onnx.NodeProto) -> int | None:
    return next((attr.i for attr in node.attribute if attr.name == "to"), None)


def _set_cast_target(node: onnx.NodeProto, to: int) -> None:
    for attr in node.attribute:
        if attr.name == "to":
            attr.i = to


def custom_node_types(model: onnx.ModelProto) -> dict[str, frozenset[str]]:
    """Node name -> the float types ("fp32", "fp16") of every `vfi::` node's inputs and output."""
    types = value_types(model)
    return {
        node.name: frozenset(_FLOAT_TYPES.get(types.get(name), "unknown") for name in [*node.input, *node.output] if name)
        for node in custom_nodes(model.graph)
    }


def value_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor of the main graph, by shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    types = {value.name: value.type.tensor_type.elem_type for value in [*graph.value_info, *graph.input, *graph.output]}
    types.update({init.name: init.data_type for init in graph.initializer})
    return types


def check_custom_node_types(model: onnx.ModelProto) -> None:
    """Every `vfi::` node has all its I/O in one type its plugin supports (fp32 or fp16)."""
    for name, kinds in custom_node_types(model).items():
        if len(kinds) != 1 or not kinds <= {"fp32", "fp16"}:
            raise ValueError(f"custom node {name} mixes I/O types {sorted(kinds)}; its plugin needs one of fp32, fp16")
