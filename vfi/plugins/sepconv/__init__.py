from vfi.plugins.op import Op
from vfi.plugins.sepconv import onnx
from vfi.plugins.sepconv.reference import sepconv_reference
from vfi.plugins.sepconv.spec import SPEC
from vfi.plugins.sepconv.torch_op import sepconv, sepconv_op

OP = Op(SPEC, sepconv_reference, sepconv, sepconv_op, onnx.functions)

__all__ = ["OP", "SPEC", "sepconv", "sepconv_reference"]
