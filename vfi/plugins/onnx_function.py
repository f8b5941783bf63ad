"""Building the standard-op ONNX function bodies of the custom ops.

A custom op appears in a model as one node `vfi::<OpType>`; the model also carries an ONNX local
function of the same name whose body computes the op with standard ops, so ONNX Runtime runs the
file without native code. Bodies that depend on a string attribute (softsplat's mode) are
specialised per value and told apart by the function's `overload` (ONNX IR >= 10), because a
body cannot branch on a string attribute without string tensors, which TensorRT lacks.
"""

from __future__ import annotations

from onnx import AttributeProto, FunctionProto, TensorProto, helper

from vfi.plugins.spec import NAMESPACE, OpSpec

OPSET = 20  # default-domain opset of the bodies and of exported models, unless asked otherwise
# Opsets a model may be exported at: DeformConv needs 19, and every op the bodies use keeps its
# semantics from 19 to 21 (ONNX Runtime 1.31 and TensorRT 10 read all three).
SUPPORTED_OPSETS = (19, 20, 21)
IR_VERSION = 10  # function overloads need IR 10; ONNX Runtime 1.31 reads up to 13
PLUGIN_ATTRS = ("plugin_version", "plugin_namespace")


class Body:
    """Collects the nodes of a function body (or a Loop body) under fresh value names."""

    def __init__(self, prefix: str = ""):
        self.nodes = []
        self._prefix = prefix
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{self._prefix}{hint}_{self._count}"

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attrs):
        names = [self._fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names

    def __getattr__(self, op_type: str):
        if not op_type[:1].isupper():
            raise AttributeError(op_type)
        return lambda *inputs, **attrs: self.op(op_type, *inputs, **attrs)

    def ints(self, *values: int) -> str:
        return self.op("Constant", value_ints=list(values))

    def int(self, value: int) -> str:
        return self.op("Constant", value_int=value)

    def float(self, value: float) -> str:
        return self.op("Constant", value_float=value)

    def attr(self, name: str, kind: type) -> str:
        """A scalar tensor holding the calling node's attribute `name`."""
        field, attr_type = {
            float: ("value_float", AttributeProto.FLOAT),
            int: ("value_int", AttributeProto.INT),
        }[kind]
        ref = AttributeProto(name=field, ref_attr_name=name, type=attr_type)
        out = self._fresh(name)
        node = helper.make_node("Constant", [], [out])
        node.attribute.append(ref)
        self.nodes.append(node)
        return out

    def dim(self, tensor: str, axis: int) -> str:
        """Size of `tensor` along `axis`, as an int64 tensor of shape [1]."""
        return self.Shape(tensor, start=axis, end=axis + 1)

    def loop(self, trip_count: str, carried: list[str], build) -> list[str]:
        """ONNX Loop over range(trip_count); `build(body, i, *state)` returns the new state.

        The carried state is float32 (the bodies' arithmetic type) of any shape."""
        body = Body(prefix=self._fresh("loop") + "_")
        i = body._fresh("i")
        cond_in = body._fresh("cond_in")
        state_in = [body._fresh("state") for _ in carried]
        state_out = build(body, i, *state_in)
        cond_out = body.Identity(cond_in)
        graph = helper.make_graph(
            body.nodes,
            body._fresh("body"),
            [
                helper.make_tensor_value_info(i, TensorProto.INT64, []),
                helper.make_tensor_value_info(cond_in, TensorProto.BOOL, []),
            ]
            + [helper.make_tensor_value_info(s, TensorProto.FLOAT, None) for s in state_in],
            [helper.make_tensor_value_info(cond_out, TensorProto.BOOL, [])]
            + [helper.make_tensor_value_info(s, TensorProto.FLOAT, None) for s in state_out],
        )
        outputs = self.op("Loop", trip_count, "", *carried, outputs=len(carried), body=graph)
        return [outputs] if len(carried) == 1 else outputs


def make_function(
    spec: OpSpec, inputs: list[str], result: str, body: Body, overload: str = ""
) -> FunctionProto:
    """The function `vfi::<OpType>` (with `overload`) whose output is the body's `result`."""
    body.nodes.append(helper.make_node("Identity", [result], [spec.output.name]))
    function = helper.make_function(
        NAMESPACE,
        spec.onnx_op_type,
        inputs,
        [spec.output.name],
        body.nodes,
        [helper.make_opsetid("", OPSET)],
        attributes=[a.name for a in spec.attrs] + list(PLUGIN_ATTRS),
    )
    function.overload = overload
    return function
