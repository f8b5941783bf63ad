"""The standard-op ONNX function body of `vfi::SepConv`.

Two nested Loops over the taps: the outer one over the vertical taps i carries the [N,C,H,W]
output, the inner one over the horizontal taps j carries the horizontally filtered rows
i..i+H-1, sum_j input[..., y+i, x+j] * horizontal[:, j]; the outer one then adds that times
vertical[:, i]. Every value is an [N,C,H,W]-sized slice or product, so the body needs a few
frames of memory whatever K is. Gathering the K windows of every pixel at once ([N,C,H,W,K]
per vertical tap) was 4x slower in ONNX Runtime on CPU (5.8 s against 1.5 s for a 3x388x584
frame at K=51): the K-fold tensors do not stay in cache, while the slices of the nested loops
do and ORT's per-iteration cost is small. K, H and W come from the kernel tensors' shapes.
Arithmetic is float32 whatever the I/O type.
"""

from __future__ import annotations

from onnx import FunctionProto, TensorProto

from vfi.plugins.onnx_function import Body, make_function
from vfi.plugins.sepconv.spec import SPEC


def functions() -> list[FunctionProto]:
    b = Body()
    frame = b.Cast("input", to=TensorProto.FLOAT)
    vertical = b.Cast("vertical", to=TensorProto.FLOAT)
    horizontal = b.Cast("horizontal", to=TensorProto.FLOAT)
    taps, height, width = (b.dim(vertical, axis) for axis in (1, 2, 3))
    out_shape = b.Concat(b.Shape(frame, start=0, end=2), height, width, axis=0)
    # Zeros from Expand rather than from a product with the input, which would carry its NaN and Inf.
    zeros = b.Expand(b.float(0.0), out_shape)

    def add_vertical_tap(outer: Body, i: str, accumulated: str) -> list[str]:
        row_tap = outer.Unsqueeze(i, outer.ints(0))
        rows = outer.Slice(frame, row_tap, outer.Add(row_tap, height), outer.ints(2))  # [N,C,H,W+K-1]

        def add_horizontal_tap(inner: Body, j: str, filtered: str) -> list[str]:
            column_tap = inner.Unsqueeze(j, inner.ints(0))
            columns = inner.Slice(rows, column_tap, inner.Add(column_tap, width), inner.ints(3))
            weight = inner.Gather(horizontal, column_tap, axis=1)  # [N,1,H,W]
            return [inner.Add(filtered, inner.Mul(columns, weight))]

        (filtered_rows,) = outer.loop(outer.Squeeze(taps), [zeros], add_horizontal_tap)
        weight = outer.Gather(vertical, row_tap, axis=1)  # [N,1,H,W]
        return [outer.Add(accumulated, outer.Mul(filtered_rows, weight))]

    (result,) = b.loop(b.Squeeze(taps), [zeros], add_vertical_tap)
    return [make_function(SPEC, ["input", "vertical", "horizontal"], b.CastLike(result, "input"), b)]
