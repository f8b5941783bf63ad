"""The standard-op ONNX function body of `vfi::SoftSplat`, one overload per mode.

The four bilinear corners of every source are scattered at once with ScatterElements
(reduction=add) into the flattened frame; dropped corners (outside, non-finite) get index 0
and a contribution of exactly 0. Arithmetic is float32 whatever the I/O type.
"""

from __future__ import annotations

from onnx import FunctionProto, TensorProto

from vfi.plugins.onnx_function import Body, make_function
from vfi.plugins.softsplat.spec import MODES, MODES_WITH_METRIC, SPEC


def overload(attrs: dict) -> str:
    return attrs["mode"]


def functions() -> list[FunctionProto]:
    return [_function(mode) for mode in MODES]


def _splat(b: Body, values: str, flow: str) -> str:
    """The summation operator S on float32 `values` [N,C,H,W] and `flow` [N,2,H,W]."""
    n, c, h, w = (b.dim(values, axis) for axis in range(4))
    hw = b.Mul(h, w)
    zero_f, one_f = b.float(0.0), b.float(1.0)
    # Target coordinates, [N,1,H,W].
    xs = b.Cast(b.Range(b.int(0), b.Squeeze(w), b.int(1)), to=TensorProto.FLOAT)
    ys = b.Unsqueeze(b.Cast(b.Range(b.int(0), b.Squeeze(h), b.int(1)), to=TensorProto.FLOAT), b.ints(1))
    u, v = b.Split(flow, axis=1, num_outputs=2, outputs=2)
    tx, ty = b.Add(u, xs), b.Add(v, ys)
    finite = b.And(
        b.Not(b.Or(b.IsNaN(tx), b.IsInf(tx))), b.Not(b.Or(b.IsNaN(ty), b.IsInf(ty)))
    )
    tx, ty = b.Where(finite, tx, zero_f), b.Where(finite, ty, zero_f)
    x0, y0 = b.Floor(tx), b.Floor(ty)
    fx, fy = b.Sub(tx, x0), b.Sub(ty, y0)
    w_f, h_f = b.Cast(w, to=TensorProto.FLOAT), b.Cast(h, to=TensorProto.FLOAT)

    flat_shape = b.Concat(n, b.ints(-1), hw, axis=0)
    flat_values = b.Reshape(values, flat_shape)  # [N,C,HW]
    index_shape = b.Concat(n, b.ints(1), hw, axis=0)
    indices, contributions = [], []
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        cx = b.Add(x0, b.float(float(dx))) if dx else x0
        cy = b.Add(y0, b.float(float(dy))) if dy else y0
        weight = b.Mul(fx if dx else b.Sub(one_f, fx), fy if dy else b.Sub(one_f, fy))
        inside = b.And(
            b.And(finite, b.And(b.GreaterOrEqual(cx, zero_f), b.Less(cx, w_f))),
            b.And(b.GreaterOrEqual(cy, zero_f), b.Less(cy, h_f)),
        )
        cx_i = b.Cast(b.Where(inside, cx, zero_f), to=TensorProto.INT64)
        cy_i = b.Cast(b.Where(inside, cy, zero_f), to=TensorProto.INT64)
        index = b.Reshape(b.Add(b.Mul(cy_i, w), cx_i), index_shape)  # [N,1,HW]
        inside_flat = b.Reshape(inside, index_shape)
        contribution = b.Mul(flat_values, b.Reshape(weight, index_shape))
        contributions.append(b.Where(inside_flat, contribution, zero_f))
        indices.append(b.Expand(index, b.Shape(flat_values)))
    updates = b.Concat(*contributions, axis=2)
    all_indices = b.Concat(*indices, axis=2)
    zeros = b.Expand(zero_f, b.Shape(flat_values))
    splatted = b.ScatterElements(zeros, all_indices, updates, axis=2, reduction="add")
    return b.Reshape(splatted, b.Shape(values))


def _function(mode: str) -> FunctionProto:
    b = Body()
    inputs = ["input", "flow"] + (["metric"] if mode in MODES_WITH_METRIC else [])
    values = b.Cast("input", to=TensorProto.FLOAT)
    flow = b.Cast("flow", to=TensorProto.FLOAT)
    if mode == "sum":
        result = _splat(b, values, flow)
    else:
        if mode == "avg":
            importance = b.Expand(b.float(1.0), b.Concat(b.dim(values, 0), b.ints(1), b.Shape(values, start=2), axis=0))
        elif mode == "linear":
            importance = b.Cast("metric", to=TensorProto.FLOAT)
        else:
            importance = b.Exp(b.Cast("metric", to=TensorProto.FLOAT))
        weighted = b.Concat(b.Mul(values, importance), importance, axis=1)
        splatted = _splat(b, weighted, flow)
        channels = b.dim(values, 1)
        numerator = b.Slice(splatted, b.ints(0), channels, b.ints(1))
        denominator = b.Slice(splatted, channels, b.Add(channels, b.ints(1)), b.ints(1))
        result = b.Div(numerator, b.Add(denominator, b.attr("eps", float)))
    return make_function(SPEC, inputs, b.CastLike(result, "input"), b, overload=mode)
