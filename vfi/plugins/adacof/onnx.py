"""The standard-op ONNX function body of `vfi::AdaCoF`.

A Loop over the F² taps carries the accumulator, so memory stays O(C·H·W) whatever F. Each
iteration computes, once per output pixel (not per channel), the flat indices of the four
corners and their weights (tap weight times bilinear weight), then gathers and accumulates the
four corners in one of two layouts, chosen by an If on the channel count:

- few channels (the frames, C = 3): channels-first, GatherElements on [N, C, H_in·W_in] with the
  index expanded over the channels. ONNX Runtime gathers single elements fastest this way.
- many channels (CDFI warps 63 at once): channels-last, Gather (axis 0) of whole [C] rows from
  the input laid out as [N·H_in·W_in, C], so the index is neither expanded nor read per channel.

Measured in ONNX Runtime on one thread, 240×320 output, F = 11, D = 2, wall seconds under load
(channels-first / channels-last): C = 4: 0.28 / 0.64, C = 16: 1.3 / 1.7, C = 32: 3.1 / 2.8,
C = 63: 7.3 / 4.2 (the former body, channels-first with two Muls per corner: 0.51 s at C = 3,
14.4 s at C = 63), so channels-last from ROW_GATHER_MIN_CHANNELS = 32 on.

ONNX has no Trunc, so trunc(x) = Sign(x)·Floor(|x|). Arithmetic is float32 whatever the I/O type.
TensorRT's ONNX parser (the `--no-plugins` fallback inlines this body) imports every op used
here: onnx-tensorrt's docs/operators.md for TensorRT 10.15 lists Loop, If, Gather,
GatherElements, Expand, Transpose, Reshape, Range, Clip, Sign, Floor, Abs, Less, Cast, CastLike
and the elementwise arithmetic as supported. Its restrictions hold here: the If's two branches
output tensors of the same rank (4) under different names, and the Loop's carried accumulator
keeps one shape across iterations. The If's condition depends only on the channel count, which
is fixed in an engine.
"""

from __future__ import annotations

from onnx import FunctionProto, TensorProto, helper

from vfi.plugins.adacof.spec import SPEC
from vfi.plugins.onnx_function import Body, make_function

ROW_GATHER_MIN_CHANNELS = 32


def functions() -> list[FunctionProto]:
    b = Body()
    image = b.Cast("input", to=TensorProto.FLOAT)
    n, c, h_in, w_in = (b.dim(image, axis) for axis in range(4))
    taps, h, w = (b.dim("weight", axis) for axis in (1, 2, 3))
    hw = b.Mul(h, w)
    pixels_in = b.Mul(h_in, w_in)
    map_shape = b.Concat(n, taps, hw, axis=0)
    weight, alpha, beta = (b.Reshape(b.Cast(name, to=TensorProto.FLOAT), map_shape) for name in ("weight", "alpha", "beta"))

    # The attribute and every loop-invariant value are taken outside the Loop body, whose
    # nodes can only read the outer scope (not the calling node's attributes).
    dilation = b.attr("dilation", int)
    size = b.Cast(b.Sqrt(b.Cast(b.Squeeze(taps), to=TensorProto.FLOAT)), to=TensorProto.INT64)  # F, exact for squares
    positions = b.Range(b.int(0), b.Squeeze(hw), b.int(1))
    w_scalar = b.Squeeze(w)
    rows = b.Cast(b.Div(positions, w_scalar), to=TensorProto.FLOAT)  # [H·W]: i of each output pixel
    cols = b.Cast(b.Mod(positions, w_scalar), to=TensorProto.FLOAT)
    zero_f, one_f = b.float(0.0), b.float(1.0)
    last_row = b.Cast(b.Squeeze(b.Sub(h_in, b.ints(1))), to=TensorProto.FLOAT)
    last_col = b.Cast(b.Squeeze(b.Sub(w_in, b.ints(1))), to=TensorProto.FLOAT)
    w_in_scalar = b.Squeeze(w_in)

    def corners(body: Body, m: str) -> list[tuple[str, str]]:
        """(flat index into one image [N,H·W], weight [N,H·W]) of the four corners of tap m."""
        k = body.Cast(body.Mul(body.Div(m, size), dilation), to=TensorProto.FLOAT)
        l = body.Cast(body.Mul(body.Mod(m, size), dilation), to=TensorProto.FLOAT)
        tap_weight, tap_alpha, tap_beta = (body.Gather(x, m, axis=1) for x in (weight, alpha, beta))  # [N,H·W]

        def trunc(x: str) -> str:
            return body.Mul(body.Sign(x), body.Floor(body.Abs(x)))

        whole_row, whole_col = trunc(tap_alpha), trunc(tap_beta)
        row_frac, col_frac = body.Sub(tap_alpha, whole_row), body.Sub(tap_beta, whole_col)
        top = body.Add(body.Add(rows, k), whole_row)
        left = body.Add(body.Add(cols, l), whole_col)

        def clamp(x: str, last: str) -> str:
            return body.Cast(body.Clip(x, zero_f, last), to=TensorProto.INT64)

        r0 = body.Mul(clamp(top, last_row), w_in_scalar)
        r1 = body.Mul(clamp(body.Add(top, one_f), last_row), w_in_scalar)
        c0, c1 = clamp(left, last_col), clamp(body.Add(left, one_f), last_col)
        top_weight = body.Mul(tap_weight, body.Sub(one_f, row_frac))
        bottom_weight = body.Mul(tap_weight, row_frac)
        left_weight = body.Sub(one_f, col_frac)
        return [
            (body.Add(row, col), body.Mul(row_weight, col_weight))
            for row, row_weight in ((r0, top_weight), (r1, bottom_weight))
            for col, col_weight in ((c0, left_weight), (c1, col_frac))
        ]

    def channels_first(branch: Body) -> str:
        flat_image = branch.Reshape(image, branch.Concat(n, c, pixels_in, axis=0))  # [N,C,Hin·Win]
        out_shape = branch.Concat(n, c, hw, axis=0)
        tap_axis = branch.ints(1)

        def tap(body: Body, m: str, acc: str) -> list[str]:
            for index, corner_weight in corners(body, m):
                index = body.Expand(body.Unsqueeze(index, tap_axis), out_shape)
                samples = body.GatherElements(flat_image, index, axis=2)  # [N,C,H·W]
                acc = body.Add(acc, body.Mul(samples, body.Unsqueeze(corner_weight, tap_axis)))
            return [acc]

        (result,) = branch.loop(branch.Squeeze(taps), [branch.Expand(zero_f, out_shape)], tap)
        return branch.Reshape(result, branch.Concat(n, c, h, w, axis=0))

    def channels_last(branch: Body) -> str:
        table = branch.Reshape(branch.Transpose(image, perm=[0, 2, 3, 1]), branch.Concat(branch.ints(-1), c, axis=0))
        # [N,1]: the table row of each image's first pixel.
        first_row = branch.Unsqueeze(branch.Mul(branch.Range(branch.int(0), branch.Squeeze(n), branch.int(1)), branch.Squeeze(pixels_in)), branch.ints(1))
        channel_axis = branch.ints(-1)

        def tap(body: Body, m: str, acc: str) -> list[str]:
            for index, corner_weight in corners(body, m):
                samples = body.Gather(table, body.Add(index, first_row), axis=0)  # [N,H·W,C]
                acc = body.Add(acc, body.Mul(samples, body.Unsqueeze(corner_weight, channel_axis)))
            return [acc]

        (result,) = branch.loop(branch.Squeeze(taps), [branch.Expand(zero_f, branch.Concat(n, hw, c, axis=0))], tap)
        return branch.Transpose(branch.Reshape(result, branch.Concat(n, h, w, c, axis=0)), perm=[0, 3, 1, 2])

    few_channels = b.Less(b.Squeeze(c), b.int(ROW_GATHER_MIN_CHANNELS))
    output = b.If(few_channels, then_branch=_graph(b, "channels_first", channels_first), else_branch=_graph(b, "channels_last", channels_last))
    return [make_function(SPEC, ["input", "weight", "alpha", "beta"], b.CastLike(output, "input"), b)]


def _graph(parent: Body, name: str, build) -> "helper.GraphProto":
    """An If branch: a subgraph without inputs whose one float32 output `build(branch)` computes
    from the enclosing body's values."""
    branch = Body(prefix=parent._fresh(name) + "_")
    result = branch.Identity(build(branch))
    return helper.make_graph(branch.nodes, parent._fresh(name), [], [helper.make_tensor_value_info(result, TensorProto.FLOAT, None)])
