"""Passes over exported ONNX graphs."""

from __future__ import annotations

import onnx
from onnx import helper

from vfi.plugins import get_op
from vfi.plugins.onnx_function import IR_VERSION
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


def strip_exporter_metadata(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the per-node metadata the torch exporter writes (source stack traces and FX node
    dumps): it leaks local paths into shipped files and grows them for no runtime use."""

    def strip(graph: onnx.GraphProto):
        for node in graph.node:
            del node.metadata_props[:]
            for attr in node.attribute:
                for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else attr.graphs:
                    strip(sub)
        for value in list(graph.input) + list(graph.output) + list(graph.value_info):
            del value.metadata_props[:]

    strip(model.graph)
    return model
