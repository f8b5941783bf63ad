"""sepconv: identity, contract, tolerances and sample cases (OPS.md)."""

from __future__ import annotations

import torch

from vfi.plugins.spec import InvalidCase, OpSpec, SampleCase, TensorSpec, Tolerance, WorkedExample

INPUT_LAYOUT = "N,C,H+K-1,W+K-1"
KERNEL_LAYOUT = "N,K,H,W"


def _normalised_kernels(g, n, k, h, w):
    """Positive taps summing to 1 per pixel, so outputs stay within the input's range."""
    taps = torch.rand(n, k, h, w, generator=g) + 0.01
    return taps / taps.sum(dim=1, keepdim=True)


def _signed_kernels(g, n, k, h, w):
    """Zero-mean taps of magnitude below 2/K: the sum over K*K products stays of order 1."""
    return (torch.rand(n, k, h, w, generator=g) * 2 - 1) * (2.0 / k)


def _case(name, n, c, k, h, w, kernels=_normalised_kernels, opcheck=True):
    def make(g):
        frame = torch.rand(n, c, h + k - 1, w + k - 1, generator=g)
        return frame, kernels(g, n, k, h, w), kernels(g, n, k, h, w)

    return SampleCase(name, make, opcheck=opcheck)


def sample_cases() -> list[SampleCase]:
    return [
        _case("1x1_k3_c3", 1, 3, 3, 1, 1),
        _case("1x1_k51_c1", 1, 1, 51, 1, 1),
        _case("7x5_k5_c1", 1, 1, 5, 7, 5),
        _case("7x5_k3_c3_signed", 1, 3, 3, 7, 5, _signed_kernels),
        _case("batch2_k5_c3", 2, 3, 5, 16, 24),
        _case("batch2_k3_c1_signed", 2, 1, 3, 9, 11, _signed_kernels),
        _case("c64_k3", 1, 64, 3, 6, 7),
        _case("c64_k5_batch2", 2, 64, 5, 4, 6),
        _case("k51_c3", 1, 3, 51, 9, 12),
        _case("k51_c3_signed_batch2", 2, 3, 51, 6, 5, _signed_kernels),
        _case("388x584_k51_c3", 1, 3, 51, 388, 584),
        # The CUDA launcher tiles up to K = 55 and runs the direct kernel beyond.
        _case("k55_c3", 1, 3, 55, 5, 7, opcheck=False),
        _case("k57_c3_batch2", 2, 3, 57, 4, 6, opcheck=False),
        # Rows longer than 65535 pixels: a grid of thousands of blocks along x.
        _case("wide_1x70000_k3_c1", 1, 1, 3, 1, 70000),
    ]


def benchmark_cases(height: int, width: int) -> list[SampleCase]:
    return [_case("K=51", 1, 3, 51, height, width)]


def gradcheck_case() -> SampleCase:
    return _case("gradcheck_k3_signed", 1, 2, 3, 4, 5, _signed_kernels)


def _column(values) -> torch.Tensor:
    """Taps [K] as a [1,K,1,1] kernel tensor."""
    return torch.tensor(values).view(1, -1, 1, 1)


def worked_examples() -> list[WorkedExample]:
    """reference/UPSTREAM.md §3, then a K=2 example with kernels that differ per pixel."""
    image = torch.arange(9.0).view(1, 1, 3, 3)
    # Rows of `ramp` are 0..3, 4..7, 8..11; vertical taps pick row y (y=0) or mix rows 1 and 2
    # (y=1), horizontal taps pick column x (x=0), column x+1 (x=1) or mix both (x=2). The second
    # channel is constant 1: every output is sum(vertical) * sum(horizontal) = 1.
    ramp = torch.stack([torch.arange(12.0).view(3, 4), torch.ones(3, 4)]).unsqueeze(0)
    vertical = torch.tensor([[1.0, 0.0], [0.25, 0.75]]).T.reshape(1, 2, 2, 1).expand(1, 2, 2, 3)
    horizontal = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]).T.reshape(1, 2, 1, 3).expand(1, 2, 2, 3)
    return [
        WorkedExample(
            "upstream_k3",
            (image, _column([0.0, 1.0, 0.0]), _column([0.25, 0.5, 0.25])),
            {},
            torch.tensor([[[[4.0]]]]),
        ),
        WorkedExample(
            "per_pixel_kernels_k2",
            (ramp, vertical.contiguous(), horizontal.contiguous()),
            {},
            torch.tensor([[[[0.0, 2.0, 2.5], [7.0, 9.0, 9.5]], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]]),
        ),
    ]


def invalid_cases() -> list[InvalidCase]:
    n, c, k, h, w = 1, 3, 3, 4, 5
    image = torch.rand(n, c, h + k - 1, w + k - 1)
    kernel = torch.rand(n, k, h, w)
    input_shape = r"input must have shape \[N,C,H\+K-1,W\+K-1\]"
    vertical_shape = r"vertical must have shape \[N,K,H,W\]"
    horizontal_shape = r"horizontal must have shape \[N,K,H,W\]"
    return [
        InvalidCase("input_rank", (image[0], kernel, kernel), {}, input_shape),
        InvalidCase("vertical_rank", (image, kernel[0], kernel), {}, vertical_shape),
        InvalidCase("horizontal_rank", (image, kernel, kernel.unsqueeze(0)), {}, horizontal_shape),
        InvalidCase("vertical_batch", (image, torch.rand(2, k, h, w), kernel), {}, vertical_shape),
        InvalidCase("horizontal_batch", (image, kernel, torch.rand(2, k, h, w)), {}, horizontal_shape),
        InvalidCase("horizontal_taps", (image, kernel, torch.rand(n, k + 2, h, w)), {}, horizontal_shape),
        InvalidCase("horizontal_height", (image, kernel, torch.rand(n, k, h + 1, w)), {}, horizontal_shape),
        InvalidCase("horizontal_width", (image, kernel, torch.rand(n, k, h, w - 1)), {}, horizontal_shape),
        InvalidCase("input_height", (torch.rand(n, c, h + k - 2, w + k - 1), kernel, kernel), {}, input_shape),
        InvalidCase("input_width", (torch.rand(n, c, h + k - 1, w + k), kernel, kernel), {}, input_shape),
        InvalidCase("unpadded_input", (torch.rand(n, c, h, w), kernel, kernel), {}, input_shape),
        InvalidCase("no_taps", (torch.rand(n, c, h - 1, w - 1), kernel[:, :0], kernel[:, :0]), {}, r"vertical must have shape \[N,K,H,W\] with K >= 1"),
        InvalidCase("dtype_mismatch", (image, kernel.double(), kernel), {}, r"all tensors must share one dtype"),
    ]


SPEC = OpSpec(
    name="sepconv",
    onnx_op_type="SepConv",
    summary="separable local convolution: one vertical and one horizontal kernel per output pixel",
    inputs=(
        TensorSpec("input", INPUT_LAYOUT),
        TensorSpec("vertical", KERNEL_LAYOUT),
        TensorSpec("horizontal", KERNEL_LAYOUT),
    ),
    output=TensorSpec("output", "N,C,H,W"),
    attrs=(),
    dtypes=(torch.float32, torch.float16),
    tolerance=Tolerance(),
    sample_cases=sample_cases,
    gradcheck_case=gradcheck_case,
    worked_examples=worked_examples,
    invalid_cases=invalid_cases,
    benchmark_cases=benchmark_cases,
)
