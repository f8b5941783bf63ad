from vfi.plugins.op import Op
from vfi.plugins.adacof import onnx
from vfi.plugins.adacof.reference import adacof_reference
from vfi.plugins.adacof.spec import SPEC
from vfi.plugins.adacof.torch_op import adacof, adacof_op

OP = Op(SPEC, adacof_reference, adacof, adacof_op, onnx.functions)

__all__ = ["OP", "SPEC", "adacof", "adacof_reference"]
