"""The custom node `vfi::<OpType>` as the torch ONNX exporter emits it."""

from __future__ import annotations

import onnx
import onnxscript
from onnx.defs import OpSchema

from vfi.plugins.onnx_function import PLUGIN_ATTRS
from vfi.plugins.spec import NAMESPACE, OpSpec

_ATTR_TYPES = {str: OpSchema.AttrType.STRING, float: OpSchema.AttrType.FLOAT, int: OpSchema.AttrType.INT}
_registered: set[str] = set()


def node_attributes(spec: OpSpec, attrs: dict) -> dict:
    """The node's attributes: the spec's, in spec order, then the TensorRT plugin's."""
    values = {a.name: a.kind(attrs.get(a.name, a.default)) for a in spec.attrs}
    values.update(plugin_version=spec.plugin_version, plugin_namespace=spec.plugin_namespace)
    return values


def register_schema(spec: OpSpec) -> None:
    """Make the node known to onnx (and so to onnxscript) in this process.

    The exporter's onnxscript tracer only emits ops that have a schema; files written by vfi do
    not need it (ONNX Runtime runs the node through the model's local function).
    """
    if spec.name in _registered:
        return
    optional = OpSchema.FormalParameterOption.Optional
    schema = OpSchema(
        spec.onnx_op_type,
        NAMESPACE,
        1,
        doc=spec.summary,
        inputs=[
            OpSchema.FormalParameter(t.name, "T", param_option=optional if t.optional else OpSchema.FormalParameterOption.Single)
            for t in spec.inputs
        ],
        outputs=[OpSchema.FormalParameter(spec.output.name, "T")],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)"], "I/O dtype")],
        attributes=[OpSchema.Attribute(a.name, _ATTR_TYPES[a.kind], a.doc) for a in spec.attrs]
        + [OpSchema.Attribute(name, OpSchema.AttrType.STRING, "TensorRT plugin lookup") for name in PLUGIN_ATTRS],
    )
    onnx.defs.register_schema(schema)
    _registered.add(spec.name)


def translation(spec: OpSpec):
    """The exporter's translation of `torch.ops.vfi.<name>`: the op's positional arguments are
    its tensors in spec order, then its attributes in spec order."""
    register_schema(spec)
    custom = onnxscript.values.Opset(NAMESPACE, 1)
    n_inputs = len(spec.inputs)

    def translate(*args):
        tensors, attr_values = args[:n_inputs], args[n_inputs:]
        attrs = node_attributes(spec, dict(zip((a.name for a in spec.attrs), attr_values)))
        return getattr(custom, spec.onnx_op_type)(*tensors, **attrs)

    translate.__name__ = f"translate_{spec.name}"
    return translate
