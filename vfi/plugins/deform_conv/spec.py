"""deform_conv: identity, contract, attributes, tolerances and sample cases (OPS.md)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vfi.plugins.deform_conv.reference import output_size
from vfi.plugins.spec import AttrSpec, InvalidCase, OpSpec, SampleCase, TensorSpec, Tolerance, WorkedExample

INPUT_LAYOUT = "N,C,H,W"
OFFSET_LAYOUT = "N,2*kH*kW,oH,oW"
WEIGHT_LAYOUT = "O,C,kH,kW"


def _attrs(stride=(1, 1), padding=(1, 1), dilation=(1, 1)) -> dict:
    return {"stride": list(stride), "padding": list(padding), "dilation": list(dilation)}


def _uniform_offsets(g, shape, scale):
    return (torch.rand(shape, generator=g) * 2 - 1) * scale


def _fractional_offsets(g, shape, scale):
    """Sampling positions at least 0.1 px from integers, so that gradcheck's finite differences
    never step across a floor() of the bilinear weights."""
    whole = torch.randint(-int(scale), int(scale) + 1, shape, generator=g).float()
    return whole + 0.1 + 0.8 * torch.rand(shape, generator=g)


def _case(name, n, c, o, size, kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), offset_scale=1.0,
          bias=True, offsets=_uniform_offsets, opcheck=True):
    out_h, out_w = (output_size(*axis) for axis in zip(size, kernel, stride, padding, dilation))

    def make(g):
        input = torch.rand(n, c, *size, generator=g)
        offset = offsets(g, (n, 2 * kernel[0] * kernel[1], out_h, out_w), offset_scale)
        weight = torch.randn(o, c, *kernel, generator=g) / math.sqrt(c * kernel[0] * kernel[1])
        return input, offset, weight, torch.randn(o, generator=g) if bias else None

    return SampleCase(name, make, _attrs(stride, padding, dilation), opcheck=opcheck)


def sample_cases() -> list[SampleCase]:
    return [
        # offsets up to ±6 px on a 5×6 frame: many taps land partly or wholly outside
        _case("outside_frame_batch2", 2, 3, 4, (5, 6), offset_scale=6.0),
        _case("fractional", 1, 2, 3, (6, 7), offset_scale=1.5),
        _case("stride_dilation", 1, 3, 2, (9, 8), stride=(2, 2), padding=(2, 1), dilation=(2, 1), offset_scale=2.0),
        _case("rectangular_kernel_no_bias", 2, 2, 3, (6, 5), kernel=(2, 3), stride=(1, 2), padding=(0, 1), bias=False),
        _case("1x1_kernel_no_padding", 1, 4, 4, (7, 9), kernel=(1, 1), padding=(0, 0), offset_scale=3.0),
        # DSFN's feature alignment: 64 channels, 3×3, offsets of a few pixels
        _case("c64_dsfn_like", 1, 64, 64, (24, 40), offset_scale=4.0, opcheck=False),
    ]


def benchmark_cases(height: int, width: int) -> list[SampleCase]:
    return [_case("C=O=32 3x3", 1, 32, 32, (height, width), offset_scale=4.0)]


def gradcheck_case() -> SampleCase:
    return _case("gradcheck", 1, 2, 3, (5, 4), stride=(2, 1), padding=(1, 0), offset_scale=2.0, offsets=_fractional_offsets)


def worked_examples() -> list[WorkedExample]:
    """A 1×1 kernel whose four output pixels sample between pixels, half outside, fully outside
    by a row and exactly on a pixel (hand-computed); then zero offsets, where the op is a plain
    convolution."""
    image = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    # (dy, dx) per output pixel: (0.5, 0.5) → mean of all four = 1.5; (0, 0.5) from (0, 1) → half
    # of pixel 1, half outside = 0.5; (−1.5, 0) from (1, 0) → rows −0.5: half of pixel 0 = 0;
    # (0, 0) → pixel 3. Plus the bias 0.5.
    offset = torch.tensor([[[[0.5, 0.0], [-1.5, 0.0]], [[0.5, 0.5], [0.0, 0.0]]]])
    g = torch.Generator().manual_seed(5)
    frame, weight, bias = torch.rand(1, 3, 6, 5, generator=g), torch.randn(2, 3, 3, 3, generator=g), torch.randn(2, generator=g)
    return [
        WorkedExample(
            "bilinear_1x1", (image, offset, torch.ones(1, 1, 1, 1), torch.tensor([0.5])), _attrs(padding=(0, 0)),
            torch.tensor([[[[2.0, 1.0], [0.5, 3.5]]]]),
        ),
        WorkedExample(
            "zero_offsets_are_conv2d", (frame, torch.zeros(1, 18, 6, 5), weight, bias), _attrs(),
            F.conv2d(frame.double(), weight.double(), bias.double(), padding=1).float(),
        ),
    ]


def invalid_cases() -> list[InvalidCase]:
    input, weight, bias = torch.rand(1, 2, 6, 7), torch.rand(3, 2, 3, 3), torch.rand(3)
    offset = torch.rand(1, 18, 6, 7)
    ok = _attrs()
    offset_shape = r"offset must have shape \[N,2\*kH\*kW,oH,oW\]"
    return [
        InvalidCase("offset_taps", (input, torch.zeros(1, 16, 6, 7), weight, bias), ok, offset_shape),
        InvalidCase("offset_height", (input, torch.zeros(1, 18, 5, 7), weight, bias), ok, offset_shape),
        InvalidCase("weight_channels", (input, offset, torch.zeros(3, 1, 3, 3), bias), ok, r"weight must have shape \[O,C,kH,kW\]"),
        InvalidCase("bias_size", (input, offset, weight, torch.zeros(2)), ok, r"bias must have shape \[O\]"),
        InvalidCase("input_rank", (input[0], offset, weight, bias), ok, r"input must have shape \[N,C,H,W\]"),
        InvalidCase("zero_stride", (input, offset, weight, bias), {**ok, "stride": 0}, "stride must be an integer >= 1"),
        InvalidCase("padding_triple", (input, offset, weight, bias), {**ok, "padding": (1, 1, 1)}, "padding must be"),
        InvalidCase("too_small", (torch.rand(1, 2, 1, 1), offset, weight, bias), _attrs(padding=(0, 0)), "is too small for a 3x3 kernel"),
        InvalidCase("dtype_mismatch", (input.double(), offset, weight, bias), ok, "one dtype"),
    ]


SPEC = OpSpec(
    name="deform_conv",
    onnx_op_type="DeformConv",
    summary="deformable convolution v1: each kernel tap displaced by a learned per-pixel offset (DSFN)",
    inputs=(
        TensorSpec("input", INPUT_LAYOUT),
        TensorSpec("offset", OFFSET_LAYOUT),
        TensorSpec("weight", WEIGHT_LAYOUT),
        TensorSpec("bias", "O", optional=True),
    ),
    output=TensorSpec("output", "N,O,oH,oW"),
    attrs=(
        AttrSpec("stride", list, [1, 1], doc="(h, w), each >= 1"),
        AttrSpec("padding", list, [0, 0], doc="(h, w) zero padding on both sides, each >= 0"),
        AttrSpec("dilation", list, [1, 1], doc="(h, w), each >= 1"),
    ),
    dtypes=(torch.float32, torch.float16),
    tolerance=Tolerance(),
    sample_cases=sample_cases,
    gradcheck_case=gradcheck_case,
    worked_examples=worked_examples,
    invalid_cases=invalid_cases,
    benchmark_cases=benchmark_cases,
)
