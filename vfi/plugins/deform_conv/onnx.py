"""deform_conv's ONNX representation: the standard `DeformConv` (opset 19), not a `vfi::` node. Its
offset tensor is laid out as [N, offset_group, kH, kW, 2 (h, w), oH, oW], exactly ours, so the
offsets pass through unchanged; ONNX Runtime runs it on the CPU and TensorRT >= 10.1 imports it
natively. Its inputs are ordered X, W, offset, B and its pads are [begin_h, begin_w, end_h, end_w]."""

from __future__ import annotations

from onnx import helper

from vfi.plugins.op import StandardOnnx

OP_TYPE = "DeformConv"


def _attributes(stride, padding, dilation) -> dict:
    return {"strides": list(stride), "pads": [padding[0], padding[1], padding[0], padding[1]], "dilations": list(dilation)}


def exporter_translation(input, offset, weight, bias, stride, padding, dilation):
    """The exporter's translation of `torch.ops.vfi.deform_conv` (traced by onnxscript)."""
    from onnxscript import opset20 as op  # only exports need onnxscript

    return op.DeformConv(input, weight, offset, bias, **_attributes(stride, padding, dilation))


def one_node(inputs: list[str], output: str, attrs: dict):
    """The node of a one-node model, `inputs` named in the spec's order ("" for an absent bias)."""
    input, offset, weight, *bias = inputs
    node_inputs = [input, weight, offset, *bias]
    while node_inputs and not node_inputs[-1]:
        node_inputs.pop()
    return helper.make_node(OP_TYPE, node_inputs, [output], **_attributes(attrs["stride"], attrs["padding"], attrs["dilation"]))


STANDARD = StandardOnnx(exporter_translation, one_node)
