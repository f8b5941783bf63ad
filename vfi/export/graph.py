"""Passes over exported ONNX graphs."""

from __future__ import annotations

import onnx
from onnx import helper

from vfi.plugins.onnx_function import IR_VERSION, PLUGIN_ATTRS
from vfi.plugins.onnx_model import custom_nodes
from vfi.plugins.spec import NAMESPACE


def strip_exporter_metadata(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the per-node metadata the torch exporter writes (source stack traces and FX node
    dumps): it leaks local paths into shipped files and grows them for no runtime use."""

    def strip(graph: onnx.GraphProto):
        for node in graph.node:
            del node.metadata_props[:]
            for sub in subgraphs(node):
                strip(sub)
        for value in list(graph.input) + list(graph.output) + list(graph.value_info):
            del value.metadata_props[:]

    strip(model.graph)
    return model


CONTROL_FLOW_OPS = ("Loop", "If", "Scan")  # e.g. the classic model's TV-L1 iterations


def control_flow(model: onnx.ModelProto) -> list[str]:
    """The control-flow op types of the main graph. The fp16 converter and ONNX Runtime's quantizer
    both rewrite the bodies of such nodes without every outer tensor the bodies read, which leaves
    an invalid model unless the caller takes care of those tensors (see vfi.export.precision)."""
    return sorted({node.op_type for node in model.graph.node if node.op_type in CONTROL_FLOW_OPS})


def subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The graphs held in the node's attributes (a Loop's body, an If's branches)."""
    return [graph for attr in node.attribute
            for graph in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else attr.graphs)]


def _defined_in(graph: onnx.GraphProto) -> set[str]:
    return ({value.name for value in graph.input} | {init.name for init in graph.initializer}
            | {name for node in graph.node for name in node.output})


def outer_reads(graph: onnx.GraphProto) -> set[str]:
    """The names a subgraph (with its nested subgraphs) reads from enclosing scopes."""
    reads = {name for node in graph.node for name in node.input if name}
    reads |= {name for node in graph.node for sub in subgraphs(node) for name in outer_reads(sub)}
    return reads - _defined_in(graph)


def rename_outer_reads(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    """Make a subgraph read renames[name] where it reads `name` from an enclosing scope."""
    local = _defined_in(graph)
    renames = {old: new for old, new in renames.items() if old not in local}
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renames.get(name, name)
        for sub in subgraphs(node):
            rename_outer_reads(sub, renames)


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {entry.key: entry.value for entry in model.metadata_props}


def update_metadata(model: onnx.ModelProto, values: dict[str, str]) -> onnx.ModelProto:
    """Set `values` in the model's metadata_props, keeping the other entries."""
    helper.set_model_props(model, {**metadata(model), **values})
    return model


def for_plugins(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` for a TensorRT build with the vfi plugin library: the `vfi::` local
    functions removed, so that every TensorRT version maps each `vfi::` node, by its
    plugin_version and plugin_namespace attributes, to our plugin instead of inlining the body."""
    prepared = onnx.ModelProto()
    prepared.CopyFrom(model)
    kept = [f for f in prepared.functions if f.domain != NAMESPACE]
    del prepared.functions[:]
    prepared.functions.extend(kept)
    return prepared


def without_custom_ops(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` for a TensorRT build without plugins: every `vfi::` node, its plugin
    attributes removed, replaced by its standard-op function body (onnx.inliner, which picks each
    node's overload), and the `vfi` domain dropped."""
    from onnx.inliner import inline_local_functions

    prepared = onnx.ModelProto()
    prepared.CopyFrom(model)
    for node in custom_nodes(prepared.graph):
        kept = [a for a in node.attribute if a.name not in PLUGIN_ATTRS]
        del node.attribute[:]
        node.attribute.extend(kept)
    inlined = inline_local_functions(prepared)
    left = sorted({n.op_type for n in custom_nodes(inlined.graph)})
    if left:
        raise ValueError(f"vfi:: nodes without a function body to inline: {', '.join(left)}")
    kept_opsets = [o for o in inlined.opset_import if o.domain != NAMESPACE]
    del inlined.opset_import[:]
    inlined.opset_import.extend(kept_opsets)
    inlined.ir_version = IR_VERSION
    return inlined
