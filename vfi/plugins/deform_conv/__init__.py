from vfi.plugins.deform_conv.onnx import STANDARD
from vfi.plugins.deform_conv.reference import deform_conv2d_reference
from vfi.plugins.deform_conv.spec import SPEC
from vfi.plugins.deform_conv.torch_op import deform_conv2d, deform_conv_op
from vfi.plugins.op import Op

OP = Op(SPEC, deform_conv2d_reference, deform_conv2d, deform_conv_op, lambda: [], standard_onnx=STANDARD)

__all__ = ["OP", "SPEC", "deform_conv2d", "deform_conv2d_reference"]
