"""The standard-op ONNX function body of `vfi::SoftSplat`, one overload per mode.

One ScatterElements(reduction="add") on the flattened accumulator [N, C, H·W + 1] adds the four
bilinear corners of every source: positions and weights are computed once per pixel and corner
([4, N, 1, H·W]) and broadcast over the planes, whose spans of H·W make both broadcasts cheap (the
previous body built [N, C, 4·H·W] indices with Expand and Concat, half of its time). Each plane has
one spare slot at its end where dropped corners (outside the frame, non-finite target) go; the
slots are cut off, so a dropped value is never added into the frame whatever it is. Arithmetic is
float32 whatever the I/O type.

Why not ScatterND(reduction="add") over [N·H·W, C] rows, which ONNX Runtime's CPU kernel runs ~5×
faster than ScatterElements per element: that kernel splits the rows over the intra-op threads
with no synchronisation (onnxruntime/core/providers/cpu/tensor/scatter_nd.cc, TryParallelFor), so
with more than one thread colliding sources race and lose additions (measured with onnxruntime
1.31: errors up to 0.3 on the 388×584 sample case with 2 threads, 2e-7 with 1; microsoft/onnxruntime
#18048). ScatterElements runs serially there. TensorRT's ONNX parser (the `--no-plugins` fallback)
imports ScatterElements with reduction add through its ScatterElements plugin (NVIDIA/TensorRT
plugin/scatterElementsPlugin: add, mul, max, min; reduction "none" in the core), while it long
lowered ScatterND to IScatterLayer ignoring the reduction (onnx/onnx-tensorrt#957).
"""

from __future__ import annotations

from onnx import FunctionProto, TensorProto

from vfi.plugins.onnx_function import Body, make_function
from vfi.plugins.softsplat.spec import MODES, MODES_WITH_METRIC, SPEC

CORNERS = ((0, 0), (1, 0), (0, 1), (1, 1))  # (dx, dy) of the bilinear corners


def overload(attrs: dict) -> str:
    return attrs["mode"]


def functions() -> list[FunctionProto]:
    return [_function(mode) for mode in MODES]


def _splat(b: Body, values: str, flow: str) -> str:
    """The summation operator S on float32 `values` [N,C,H,W] and `flow` [N,2,H,W]."""
    n, c, h, w = (b.dim(values, axis) for axis in range(4))
    hw = b.Mul(h, w)
    zero_f, one_f = b.float(0.0), b.float(1.0)
    zero_i, one_i = b.ints(0), b.ints(1)
    # Target coordinates, [N,1,H,W].
    xs = b.Cast(b.Range(b.int(0), b.Squeeze(w), b.int(1)), to=TensorProto.FLOAT)
    ys = b.Unsqueeze(b.Cast(b.Range(b.int(0), b.Squeeze(h), b.int(1)), to=TensorProto.FLOAT), b.ints(1))
    u, v = b.Split(flow, axis=1, num_outputs=2, outputs=2)
    tx, ty = b.Add(u, xs), b.Add(v, ys)
    finite = b.And(
        b.Not(b.Or(b.IsNaN(tx), b.IsInf(tx))), b.Not(b.Or(b.IsNaN(ty), b.IsInf(ty)))
    )
    # A non-finite target moves to −2, where both of its corners are outside.
    outside_f = b.float(-2.0)
    tx, ty = b.Where(finite, tx, outside_f), b.Where(finite, ty, outside_f)
    x0, y0 = b.Floor(tx), b.Floor(ty)
    fx, fy = b.Sub(tx, x0), b.Sub(ty, y0)
    gx, gy = b.Sub(one_f, fx), b.Sub(one_f, fy)
    # Clipping the floor to [−2, size] keeps both corners on the same side of the frame's edges and
    # makes the int64 conversion safe for any finite flow.
    x0 = b.Cast(b.Clip(x0, outside_f, b.Cast(w, to=TensorProto.FLOAT)), to=TensorProto.INT64)
    y0 = b.Cast(b.Clip(y0, outside_f, b.Cast(h, to=TensorProto.FLOAT)), to=TensorProto.INT64)
    inside_x = (b.And(b.GreaterOrEqual(x0, zero_i), b.Less(x0, w)),
                b.And(b.GreaterOrEqual(x0, b.ints(-1)), b.Less(x0, b.Sub(w, one_i))))
    inside_y = (b.And(b.GreaterOrEqual(y0, zero_i), b.Less(y0, h)),
                b.And(b.GreaterOrEqual(y0, b.ints(-1)), b.Less(y0, b.Sub(h, one_i))))
    first = b.Add(b.Mul(y0, w), x0)  # position of corner (0, 0) in its plane
    corner_positions = (first, b.Add(first, one_i), b.Add(first, w), b.Add(first, b.Add(w, one_i)))
    corner_weights = (b.Mul(gx, gy), b.Mul(fx, gy), b.Mul(gx, fy), b.Mul(fx, fy))
    positions = []
    for (dx, dy), position in zip(CORNERS, corner_positions):
        inside = b.And(inside_x[dx], inside_y[dy])
        positions.append(b.Where(inside, position, hw))  # a dropped corner goes to its plane's spare slot
    # [4,N,1,HW] per corner and pixel, broadcast over the planes [1,N,C,1] (spans of H·W: cheap).
    corner_shape = b.Concat(b.ints(4), n, one_i, hw, axis=0)
    positions = b.Reshape(b.Concat(*positions, axis=0), corner_shape)
    corner_weights = b.Reshape(b.Concat(*corner_weights, axis=0), corner_shape)
    planes = b.Mul(n, c)
    plane_size = b.Add(hw, one_i)
    plane_starts = b.Reshape(
        b.Mul(b.Range(b.int(0), b.Squeeze(planes), b.int(1)), plane_size), b.Concat(one_i, n, c, one_i, axis=0)
    )
    flat = b.ints(-1)
    indices = b.Reshape(b.Add(positions, plane_starts), flat)
    updates = b.Reshape(b.Mul(b.Reshape(values, b.Concat(one_i, n, c, hw, axis=0)), corner_weights), flat)
    accumulator = b.ConstantOfShape(b.Mul(planes, plane_size))  # float32 zeros
    splatted = b.ScatterElements(accumulator, indices, updates, axis=0, reduction="add")
    planes_out = b.Slice(b.Reshape(splatted, b.Concat(n, c, plane_size, axis=0)), zero_i, hw, b.ints(2))
    return b.Reshape(planes_out, b.Shape(values))


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
