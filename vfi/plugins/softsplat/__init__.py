from vfi.plugins.op import Op
from vfi.plugins.softsplat import onnx
from vfi.plugins.softsplat.reference import softsplat_reference
from vfi.plugins.softsplat.spec import SPEC
from vfi.plugins.softsplat.torch_op import softsplat, softsplat_op

OP = Op(SPEC, softsplat_reference, softsplat, softsplat_op, onnx.functions, onnx.overload)

__all__ = ["OP", "SPEC", "softsplat", "softsplat_reference"]
