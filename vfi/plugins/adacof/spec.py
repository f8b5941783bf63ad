"""adacof: identity, contract, attributes, tolerances and sample cases (OPS.md)."""

from __future__ import annotations

import torch

from vfi.plugins.spec import (
    AttrSpec,
    InvalidCase,
    OpSpec,
    SampleCase,
    TensorSpec,
    Tolerance,
    WorkedExample,
)

INPUT_LAYOUT = "N,C,H+(F-1)D,W+(F-1)D"
MAP_LAYOUT = "N,F*F,H,W"


def _frame(g, n, c, h, w, f, d):
    pad = (f - 1) * d
    return torch.rand(n, c, h + pad, w + pad, generator=g)


def _weight(g, n, f, h, w):
    # The network applies a softmax over the F² channels, so each output is a convex combination
    # of samples (which may themselves extrapolate, see README "Semantics").
    return torch.softmax(torch.randn(n, f * f, h, w, generator=g) * 2, dim=1)


def _offsets(g, n, f, h, w, scale):
    return (torch.rand(n, f * f, h, w, generator=g) * 2 - 1) * scale


def _negative_fractional(g, n, f, h, w):
    """Offsets in (-3, 0) that are never integers: the range where trunc differs from floor."""
    whole = torch.randint(0, 3, (n, f * f, h, w), generator=g)
    fraction = torch.rand(n, f * f, h, w, generator=g) * 0.8 + 0.1
    return -(whole + fraction)


def _integers(g, n, f, h, w):
    """Exactly integer offsets, both signs: zero fractional part, no interpolation."""
    return torch.randint(-3, 4, (n, f * f, h, w), generator=g).float()


def _zeros(g, n, f, h, w):
    return torch.zeros(n, f * f, h, w)


def _away_from_integers(g, n, f, h, w):
    """Offsets in (-2, 3) at least 0.1 from every integer: the sampler jumps at negative
    integers (trunc), so finite differences must not straddle one."""
    whole = torch.randint(-2, 3, (n, f * f, h, w), generator=g)
    fraction = torch.rand(n, f * f, h, w, generator=g) * 0.8 + 0.1
    return whole + fraction


def _case(name, n, c, f, d, h, w, scale=1.5, offsets=None):
    def make(g):
        frame = _frame(g, n, c, h, w, f, d)
        weight = _weight(g, n, f, h, w)
        if offsets is None:
            alpha = _offsets(g, n, f, h, w, scale)
            beta = _offsets(g, n, f, h, w, scale)
        else:
            alpha = offsets(g, n, f, h, w)
            beta = offsets(g, n, f, h, w)
        return frame, weight, alpha, beta

    return SampleCase(name, make, {"dilation": d})


def sample_cases() -> list[SampleCase]:
    return [
        _case("1x1_f5_d1", 1, 3, 5, 1, 1, 1),
        _case("1x1_f1_d1", 1, 3, 1, 1, 1, 1),
        _case("7x5_c1_f5_d1", 1, 1, 5, 1, 7, 5, 2.5),
        _case("7x5_c3_f11_d2", 1, 3, 11, 2, 7, 5, 2.5),
        _case("7x5_c1_f3_d1", 1, 1, 3, 1, 7, 5, 2.5),
        _case("6x4_c3_f1_d1", 1, 3, 1, 1, 6, 4, 2.5),
        _case("9x8_c3_f3_d3", 1, 3, 3, 3, 9, 8, 2.5),
        _case("batch2_c3_f5_d1", 2, 3, 5, 1, 16, 24, 3.0),
        _case("batch2_c3_f11_d2", 2, 3, 11, 2, 12, 10, 3.0),
        _case("c64_f5_d1", 1, 64, 5, 1, 8, 10, 2.0),
        _case("c64_f3_d1_batch2", 2, 64, 3, 1, 6, 7, 2.0),
        _case("outside_frame_f5_d1", 1, 3, 5, 1, 20, 30, 40.0),
        _case("outside_frame_f11_d2", 2, 3, 11, 2, 10, 12, 1000.0),
        _case("negative_fractional_f5_d1", 1, 3, 5, 1, 12, 9, offsets=_negative_fractional),
        _case("negative_fractional_f11_d2", 1, 3, 11, 2, 8, 7, offsets=_negative_fractional),
        _case("integer_offsets_f3_d2", 1, 3, 3, 2, 10, 11, offsets=_integers),
        _case("zero_offsets_f5_d1", 1, 3, 5, 1, 10, 11, offsets=_zeros),
        _case("388x584_c3_f5_d1", 1, 3, 5, 1, 388, 584, 4.0),
        _case("388x584_c3_f11_d2", 1, 3, 11, 2, 388, 584, 4.0),
        # Rows longer than 65535 pixels: a grid of thousands of blocks along x.
        _case("wide_1x70000_c1_f3_d1", 1, 1, 3, 1, 1, 70000, 2.0),
    ]


def benchmark_cases(height: int, width: int) -> list[SampleCase]:
    return [_case("F=5 D=1", 1, 3, 5, 1, height, width), _case("F=11 D=2", 1, 3, 11, 2, height, width)]


def gradcheck_case() -> SampleCase:
    return _case("gradcheck_f3_d1", 1, 2, 3, 1, 4, 5, offsets=_away_from_integers)


def _trunc_example(name, axis, index, offset, expected_value):
    """reference/UPSTREAM.md §4: the line [10, 20, 40] with F = D = 1, sampled at `index` with
    `offset` along `axis` (2: alpha on a column, 3: beta on a row); the other pixels keep a zero
    offset and so read themselves."""
    line = torch.tensor([10.0, 20.0, 40.0])
    shape = (1, 1, 3, 1) if axis == 2 else (1, 1, 1, 3)
    frame = line.reshape(shape)
    offsets = torch.zeros(3)
    offsets[index] = offset
    moved = offsets.reshape(shape)
    still = torch.zeros(shape)
    alpha, beta = (moved, still) if axis == 2 else (still, moved)
    expected = line.clone()
    expected[index] = expected_value
    return WorkedExample(name, (frame, torch.ones(shape), alpha, beta), {"dilation": 1}, expected.reshape(shape))


def _tap_layout_example():
    """m = k·F + l with k the kernel row: a one-hot weight on tap (k, l) = (0, 2) of a 3×3 kernel
    with D = 2 reads input (i + 0, j + 4); the centre tap reads (i + 2, j + 2) (UPSTREAM.md §4)."""
    h, w, f, d = 2, 3, 3, 2
    pad = (f - 1) * d
    frame = torch.arange((h + pad) * (w + pad), dtype=torch.float32).reshape(1, 1, h + pad, w + pad)
    weight = torch.zeros(1, f * f, h, w)
    weight[:, 0 * f + 2, 0] = 1.0  # output row 0: tap (0, 2)
    weight[:, 1 * f + 1, 1] = 1.0  # output row 1: centre tap
    zeros = torch.zeros(1, f * f, h, w)
    expected = torch.stack([frame[0, 0, 0, 4:4 + w], frame[0, 0, 3, 2:2 + w]]).reshape(1, 1, h, w)
    return WorkedExample("tap_layout_f3_d2", (frame, weight, zeros, zeros), {"dilation": d}, expected)


def worked_examples() -> list[WorkedExample]:
    """reference/UPSTREAM.md §4, the trunc table (row 1, then the last row), vertically through
    alpha and, transposed, horizontally through beta."""
    table = [
        ("row1_plus_0.5", 1, 0.5, 30.0),
        ("row1_minus_0.5", 1, -0.5, 10.0),
        ("row1_minus_1.5", 1, -1.5, 5.0),
        ("row1_plus_1.0", 1, 1.0, 40.0),
        ("row1_plus_0.25", 1, 0.25, 25.0),
        ("row2_minus_0.5", 2, -0.5, 40.0),
    ]
    examples = [_trunc_example(f"trunc_alpha_{name}", 2, i, o, v) for name, i, o, v in table]
    examples += [_trunc_example(f"trunc_beta_{name}", 3, i, o, v) for name, i, o, v in table]
    return examples + [_tap_layout_example()]


def invalid_cases() -> list[InvalidCase]:
    f, d, h, w = 3, 1, 4, 5
    frame = torch.rand(1, 3, h + 2, w + 2)
    maps = torch.zeros(1, f * f, h, w)
    one = {"dilation": 1}
    input_shape = r"input must have shape \[N,C,H\+\(F-1\)D,W\+\(F-1\)D\]"
    map_shape = r"{} must have shape \[N,F\*F,H,W\]"
    return [
        InvalidCase("input_rank", (frame[0], maps, maps, maps), one, input_shape),
        InvalidCase("weight_rank", (frame, maps[0], maps, maps), one, map_shape.format("weight")),
        InvalidCase("alpha_rank", (frame, maps, maps[0], maps), one, map_shape.format("alpha")),
        InvalidCase("beta_rank", (frame, maps, maps, maps[..., None]), one, map_shape.format("beta")),
        InvalidCase(
            "weight_not_square",
            (frame, torch.zeros(1, 8, h, w), torch.zeros(1, 8, h, w), torch.zeros(1, 8, h, w)),
            one,
            map_shape.format("weight") + r" with a square channel count F\*F, got 8",
        ),
        InvalidCase("alpha_channels", (frame, maps, torch.zeros(1, 4, h, w), maps), one, map_shape.format("alpha")),
        InvalidCase("beta_size", (frame, maps, maps, torch.zeros(1, f * f, h, w + 1)), one, map_shape.format("beta")),
        InvalidCase("alpha_batch", (frame, maps, torch.zeros(2, f * f, h, w), maps), one, map_shape.format("alpha")),
        InvalidCase("weight_batch", (frame, torch.zeros(2, f * f, h, w), maps, maps), one, map_shape.format("weight")),
        InvalidCase("input_height", (torch.rand(1, 3, h + 3, w + 2), maps, maps, maps), one, input_shape),
        InvalidCase("input_width", (torch.rand(1, 3, h + 2, w), maps, maps, maps), one, input_shape),
        InvalidCase("input_unpadded_for_dilation", (frame, maps, maps, maps), {"dilation": 2}, input_shape),
        InvalidCase("dilation_zero", (frame, maps, maps, maps), {"dilation": 0}, r"dilation must be an integer >= 1, got 0"),
        InvalidCase("dilation_float", (frame, maps, maps, maps), {"dilation": 1.0}, r"dilation must be an integer >= 1, got 1\.0"),
        InvalidCase("dtype_mismatch", (frame, maps, maps.double(), maps), one, r"share one dtype"),
    ]


SPEC = OpSpec(
    name="adacof",
    onnx_op_type="AdaCoF",
    summary="adaptive collaboration of flows: per-pixel deformable kernels with the official sampler",
    inputs=(
        TensorSpec("input", INPUT_LAYOUT),
        TensorSpec("weight", MAP_LAYOUT),
        TensorSpec("alpha", MAP_LAYOUT),
        TensorSpec("beta", MAP_LAYOUT),
    ),
    output=TensorSpec("output", "N,C,H,W"),
    attrs=(
        AttrSpec("dilation", int, 1, (), "spacing D of the F×F kernel taps, >= 1"),
    ),
    dtypes=(torch.float32, torch.float16),
    tolerance=Tolerance(),
    sample_cases=sample_cases,
    gradcheck_case=gradcheck_case,
    worked_examples=worked_examples,
    invalid_cases=invalid_cases,
    benchmark_cases=benchmark_cases,
)
