"""deform_conv beyond the registry-generated tests (tests/plugins/test_ops.py: worked examples,
sample cases in PyTorch and ONNX Runtime, fp16, gradcheck, opcheck, invalid arguments): the
vectorised reference against an independent per-pixel definition, whole-pixel and zero offsets
against conv2d, gradcheck without a bias, and an exported module with dynamic size in ONNX Runtime."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from vfi.export.onnx import export_module
from vfi.plugins.onnx_model import ort_session
from vfi.plugins.deform_conv import OP, deform_conv2d, deform_conv2d_reference


def direct_deform_conv(input, offset, weight, bias, stride, padding, dilation):
    """The definition, one output pixel and tap at a time, with the bilinear weights written as
    hat functions (1 - |distance|) over the four neighbours: an independent formulation."""
    input, offset, weight = input.double(), offset.double(), weight.double()
    n, _, height, width = input.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    out = torch.zeros(n, out_channels, *offset.shape[2:], dtype=torch.float64)
    for b in range(n):
        for oy in range(offset.shape[2]):
            for ox in range(offset.shape[3]):
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        tap = i * kernel_w + j
                        y = oy * stride[0] - padding[0] + i * dilation[0] + float(offset[b, 2 * tap, oy, ox])
                        x = ox * stride[1] - padding[1] + j * dilation[1] + float(offset[b, 2 * tap + 1, oy, ox])
                        sample = torch.zeros(input.shape[1], dtype=torch.float64)
                        for row in (math.floor(y), math.floor(y) + 1):
                            for col in (math.floor(x), math.floor(x) + 1):
                                if 0 <= row < height and 0 <= col < width:
                                    sample += (1 - abs(y - row)) * (1 - abs(x - col)) * input[b, :, row, col]
                        out[b, :, oy, ox] += weight[:, :, i, j] @ sample
    if bias is not None:
        out += bias.double().view(1, -1, 1, 1)
    return out


def out_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def make_case(seed, n, c, o, size, kernel, stride, padding, dilation, offset_scale, bias=True, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    oh, ow = (out_size(s, k, st, p, d) for s, k, st, p, d in zip(size, kernel, stride, padding, dilation))
    input = torch.rand(n, c, h, w, generator=g, dtype=dtype)
    offset = ((torch.rand(n, 2 * kernel[0] * kernel[1], oh, ow, generator=g, dtype=dtype) * 2 - 1) * offset_scale)
    weight = torch.randn(o, c, *kernel, generator=g, dtype=dtype) / math.sqrt(c * kernel[0] * kernel[1])
    b = torch.randn(o, generator=g, dtype=dtype) if bias else None
    return input, offset, weight, b, list(stride), list(padding), list(dilation)


CASES = {
    # offsets up to ±6 px on a 5×6 frame: many taps land partly or wholly outside
    "outside_frame": make_case(0, 2, 3, 4, (5, 6), (3, 3), (1, 1), (1, 1), (1, 1), 6.0),
    "fractional": make_case(1, 1, 2, 3, (6, 7), (3, 3), (1, 1), (1, 1), (1, 1), 1.5),
    "stride_dilation": make_case(2, 1, 3, 2, (9, 8), (3, 3), (2, 2), (2, 1), (2, 1), 2.0),
    "rectangular_kernel_no_bias": make_case(3, 2, 2, 3, (6, 5), (2, 3), (1, 2), (0, 1), (1, 1), 1.0, bias=False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reference_matches_per_pixel_definition(name):
    args = CASES[name]
    expected = direct_deform_conv(*args)
    assert (deform_conv2d_reference(*args).double() - expected).abs().max() <= 1e-5
    assert (deform_conv2d_reference(*(a.double() if isinstance(a, torch.Tensor) else a for a in args)) - expected).abs().max() <= 1e-12


def test_integer_offsets_sample_exact_pixels():
    # A whole-pixel offset moves every tap onto a pixel: conv2d of the shifted, zero-filled input.
    input, _, weight, bias, *_ = make_case(4, 1, 2, 3, (6, 7), (3, 3), (1, 1), (1, 1), (1, 1), 0.0)
    offset = torch.zeros(1, 18, 6, 7)
    offset[:, 0::2] = 2.0  # dy: sample two rows further down
    offset[:, 1::2] = -1.0  # dx: one column to the left
    # Tap (i, j) of output (y, x) reads input[y - 1 + i + 2, x - 1 + j - 1]; in a frame padded
    # with 4 zeros a side that is padded[5 + y + i, 2 + x + j]: a valid conv of a window.
    padded = F.pad(input, (4, 4, 4, 4))
    expected = F.conv2d(padded[:, :, 5 : 5 + 6 + 2, 2 : 2 + 7 + 2], weight, bias)
    assert torch.allclose(deform_conv2d(input, offset, weight, bias, padding=1), expected, atol=1e-6)


@pytest.mark.parametrize(
    "stride,padding,dilation", [((1, 1), (1, 1), (1, 1)), ((2, 1), (0, 2), (1, 2)), ((1, 1), (2, 2), (2, 2))]
)
def test_zero_offsets_are_an_ordinary_convolution(stride, padding, dilation):
    input, offset, weight, bias, *_ = make_case(5, 2, 4, 5, (8, 9), (3, 3), stride, padding, dilation, 0.0)
    expected = F.conv2d(input, weight, bias, stride, padding, dilation)
    assert torch.allclose(deform_conv2d(input, offset, weight, bias, stride, padding, dilation), expected, atol=1e-5)


def test_gradcheck_without_a_bias():
    """The registry's gradcheck case, whose bias is dropped: the path without one."""
    case = OP.spec.gradcheck_case()
    input, offset, weight = (t.requires_grad_() for t in case.inputs(torch.float64)[:3])
    assert torch.autograd.gradcheck(lambda *args: deform_conv2d(*args, None, **case.attrs), (input, offset, weight))


class SingleDeformConv(torch.nn.Module):
    def __init__(self, weight, bias, stride, padding, dilation):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)
        self.bias = None if bias is None else torch.nn.Parameter(bias)
        self.conv = dict(stride=stride, padding=padding, dilation=dilation)

    def forward(self, input, offset):
        return deform_conv2d(input, offset, self.weight, self.bias, **self.conv)


@pytest.mark.parametrize("with_bias", [True, False])
def test_onnx_runtime_deform_conv_matches_reference(with_bias):
    _, _, weight, bias, stride, padding, dilation = CASES["outside_frame"]
    module = SingleDeformConv(weight, bias if with_bias else None, stride, padding, dilation).eval()
    traced = CASES["outside_frame"][:2]
    height, width = torch.export.Dim("height", min=2, max=4096), torch.export.Dim("width", min=2, max=4096)
    dims = {"input": {2: height, 3: width}, "offset": {2: height, 3: width}}
    model = export_module(module, traced, ["input", "offset"], ["output"], dims)

    (node,) = [n for n in model.graph.node if n.op_type == "DeformConv"]
    assert node.domain == "" and not model.functions  # the standard op, no vfi:: function
    for value in model.graph.input:
        assert [d.dim_param for d in value.type.tensor_type.shape.dim[2:]] == ["height", "width"]
    onnx.checker.check_model(model, full_check=True)

    session = ort_session(model)
    for seed, size in ((7, (5, 6)), (8, (23, 17))):
        input, offset, *_ = make_case(seed, 2, 3, 4, size, (3, 3), (1, 1), (1, 1), (1, 1), 6.0)
        (actual,) = session.run(None, {"input": input.numpy(), "offset": offset.numpy()})
        expected = deform_conv2d_reference(input, offset, module.weight.detach(), module.bias, stride, padding, dilation)
        assert np.abs(actual - expected.detach().numpy()).max() <= 1e-5
