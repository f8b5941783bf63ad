"""The standard-op ONNX function body of `vfi::AdaCoF`.

A Loop over the F² taps carries the accumulator, so memory stays O(C·H·W) whatever F; each
iteration gathers the four corners of every output pixel from the flattened input with
GatherElements. ONNX has no Trunc, so trunc(x) = Sign(x)·Floor(|x|). Arithmetic is float32
whatever the I/O type.
"""

from __future__ import annotations

from onnx import FunctionProto, TensorProto

from vfi.plugins.adacof.spec import SPEC
from vfi.plugins.onnx_function import Body, make_function


def functions() -> list[FunctionProto]:
    b = Body()
    image = b.Cast("input", to=TensorProto.FLOAT)
    n, c, h_in, w_in = (b.dim(image, axis) for axis in range(4))
    taps, h, w = (b.dim("weight", axis) for axis in (1, 2, 3))
    hw = b.Mul(h, w)
    map_shape = b.Concat(n, taps, hw, axis=0)
    weight, alpha, beta = (b.Reshape(b.Cast(name, to=TensorProto.FLOAT), map_shape) for name in ("weight", "alpha", "beta"))
    flat_image = b.Reshape(image, b.Concat(n, c, b.Mul(h_in, w_in), axis=0))  # [N,C,Hin·Win]
    out_shape = b.Concat(n, c, hw, axis=0)

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
    tap_axis = b.ints(0)
    accumulator = b.Expand(zero_f, out_shape)

    def tap(body: Body, m: str, acc: str) -> list[str]:
        index = body.Unsqueeze(m, tap_axis)
        k = body.Cast(body.Mul(body.Div(m, size), dilation), to=TensorProto.FLOAT)
        l = body.Cast(body.Mul(body.Mod(m, size), dilation), to=TensorProto.FLOAT)
        tap_weight, tap_alpha, tap_beta = (body.Gather(x, index, axis=1) for x in (weight, alpha, beta))  # [N,1,H·W]

        def trunc(x: str) -> str:
            return body.Mul(body.Sign(x), body.Floor(body.Abs(x)))

        whole_row, whole_col = trunc(tap_alpha), trunc(tap_beta)
        row_frac, col_frac = body.Sub(tap_alpha, whole_row), body.Sub(tap_beta, whole_col)
        top = body.Add(body.Add(rows, k), whole_row)
        left = body.Add(body.Add(cols, l), whole_col)

        def clamp(x: str, last: str) -> str:
            return body.Cast(body.Clip(x, zero_f, last), to=TensorProto.INT64)

        r0, r1 = clamp(top, last_row), clamp(body.Add(top, one_f), last_row)
        c0, c1 = clamp(left, last_col), clamp(body.Add(left, one_f), last_col)

        def corner(r: str, col: str) -> str:
            flat_index = body.Add(body.Mul(r, w_in_scalar), col)
            return body.GatherElements(flat_image, body.Expand(flat_index, out_shape), axis=2)

        row_rest, col_rest = body.Sub(one_f, row_frac), body.Sub(one_f, col_frac)
        sample = body.Mul(body.Mul(corner(r0, c0), row_rest), col_rest)
        sample = body.Add(sample, body.Mul(body.Mul(corner(r1, c0), row_frac), col_rest))
        sample = body.Add(sample, body.Mul(body.Mul(corner(r0, c1), row_rest), col_frac))
        sample = body.Add(sample, body.Mul(body.Mul(corner(r1, c1), row_frac), col_frac))
        return [body.Add(acc, body.Mul(tap_weight, sample))]

    (result,) = b.loop(b.Squeeze(taps), [accumulator], tap)
    output = b.Reshape(result, b.Concat(n, c, h, w, axis=0))
    return [make_function(SPEC, ["input", "weight", "alpha", "beta"], b.CastLike(output, "input"), b)]
