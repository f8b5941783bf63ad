"""ONNX models of the custom ops: finding `vfi::` nodes in a graph, attaching their function bodies
(so ONNX Runtime runs a model without native code), the one-node model of an op, and running it in
ONNX Runtime on the CPU. The exporter, the plugin self-test and the op tests build on these."""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import helper

from vfi.plugins import get_op
from vfi.plugins.onnx_function import IR_VERSION, OPSET
from vfi.plugins.onnx_node import node_attributes
from vfi.plugins.op import Op
from vfi.plugins.spec import NAMESPACE


def custom_nodes(graph: onnx.GraphProto):
    """Every `vfi::` node of `graph`, including those inside subgraphs."""
    for node in graph.node:
        if node.domain == NAMESPACE:
            yield node
        for attr in node.attribute:
            for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else attr.graphs:
                yield from custom_nodes(sub)


def node_attrs(node: onnx.NodeProto) -> dict:
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def attach_functions(model: onnx.ModelProto) -> onnx.ModelProto:
    """Point every `vfi::` node at its function body (overload) and add the bodies it needs as
    local functions, so that ONNX Runtime runs the model without native code."""
    present = {(f.domain, f.name, f.overload) for f in model.functions}
    for node in custom_nodes(model.graph):
        op = get_op(node.op_type)
        node.overload = op.onnx_overload(node_attrs(node))
        for function in op.onnx_functions():
            key = (function.domain, function.name, function.overload)
            if function.overload == node.overload and key not in present:
                model.functions.append(function)
                present.add(key)
    if not any(o.domain == NAMESPACE for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(NAMESPACE, 1))
    # A function must import the model's default-domain opset; the bodies use only ops whose
    # semantics are unchanged across the supported opsets (vfi.plugins.onnx_function).
    opset = default_opset(model)
    for function in model.functions:
        if function.domain == NAMESPACE:
            for entry in function.opset_import:
                if entry.domain == "":
                    entry.version = opset
    model.ir_version = IR_VERSION
    return model


def default_opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


_ONNX_TYPES = {torch.float32: onnx.TensorProto.FLOAT, torch.float16: onnx.TensorProto.FLOAT16}


def check_model(model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model, full_check=True)


def op_model(op: Op, attrs: dict, present: tuple[bool, ...], dtype=torch.float32) -> onnx.ModelProto:
    """A model holding the op's one node (`vfi::<OpType>` with its function body, or its standard
    node) with dynamic shapes; `present[i]` says whether the op's i-th input is given (optional
    inputs may be absent)."""
    elem = _ONNX_TYPES[dtype]
    inputs = [
        helper.make_tensor_value_info(t.name, elem, [None] * len(t.shape.split(",")))
        for t, given in zip(op.spec.inputs, present)
        if given
    ]
    node_inputs = [t.name if given else "" for t, given in zip(op.spec.inputs, present)]
    if op.standard_onnx is not None:
        node = op.standard_onnx.node(node_inputs, op.spec.output.name, attrs)
    else:
        while node_inputs and not node_inputs[-1]:
            node_inputs.pop()
        node = helper.make_node(
            op.spec.onnx_op_type,
            node_inputs,
            [op.spec.output.name],
            domain=NAMESPACE,
            **node_attributes(op.spec, attrs),
        )
    output = helper.make_tensor_value_info(op.spec.output.name, elem, [None] * len(op.spec.output.shape.split(",")))
    graph = helper.make_graph([node], f"vfi_{op.spec.name}", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    attach_functions(model)
    check_model(model)
    return model


def ort_session(model: onnx.ModelProto):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run_op_in_ort(op: Op, inputs: tuple, attrs: dict) -> np.ndarray:
    """Run the op's ONNX representation (function body or standard node) in ONNX Runtime (CPU) on
    torch `inputs`."""
    dtype = next(t.dtype for t in inputs if t is not None)
    model = op_model(op, attrs, tuple(t is not None for t in inputs), dtype)
    feeds = {spec.name: t.numpy() for spec, t in zip(op.spec.inputs, inputs) if t is not None}
    return ort_session(model).run(None, feeds)[0]
