"""softsplat: identity, contract, attributes, tolerances and sample cases (OPS.md)."""

from __future__ import annotations

import math

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

MODES = ("sum", "avg", "linear", "soft")
MODES_WITH_METRIC = ("linear", "soft")


def _frame(g, n, c, h, w):
    return torch.rand(n, c, h, w, generator=g)


def _flow(g, n, h, w, scale):
    return (torch.rand(n, 2, h, w, generator=g) * 2 - 1) * scale


def _metric(g, n, h, w, mode):
    if mode == "soft":  # the SoftSplat network clamps its metric to [-20, 20]
        return torch.rand(n, 1, h, w, generator=g) * 40 - 20
    return torch.rand(n, 1, h, w, generator=g) + 0.05  # linear: a positive importance


def _case(name, n, c, h, w, mode, flow_scale, flow_edit=None):
    def make(g):
        flow = _flow(g, n, h, w, flow_scale)
        if flow_edit is not None:
            flow = flow_edit(flow)
        metric = _metric(g, n, h, w, mode) if mode in MODES_WITH_METRIC else None
        return _frame(g, n, c, h, w), flow, metric

    return SampleCase(name, make, {"mode": mode, "eps": 1e-7})


def _non_finite(flow):
    flow = flow.clone()
    flow[:, 0, 0, :] = math.nan
    flow[:, 1, :, 1] = math.inf
    flow[..., -1, -1] = -math.inf
    return flow


def _collide(flow):
    """Every source lands within a pixel of the frame's centre: heavy collisions."""
    n, _, h, w = flow.shape
    y = torch.arange(h, dtype=flow.dtype).view(1, h, 1)
    x = torch.arange(w, dtype=flow.dtype).view(1, 1, w)
    collided = torch.empty_like(flow)
    collided[:, 0] = (w - 1) / 2 - x + flow[:, 0] * 0.3
    collided[:, 1] = (h - 1) / 2 - y + flow[:, 1] * 0.3
    return collided


def sample_cases() -> list[SampleCase]:
    cases = [_case(f"1x1_{m}", 1, 3, 1, 1, m, 0.7) for m in MODES]
    cases += [_case(f"7x5_c1_{m}", 1, 1, 7, 5, m, 2.5) for m in MODES]
    cases += [
        _case("batch2_c3_soft", 2, 3, 16, 24, "soft", 3.0),
        _case("c64_avg", 1, 64, 12, 10, "avg", 2.0),
        _case("c64_soft", 2, 64, 9, 13, "soft", 2.0),
        _case("outside_frame_soft", 1, 3, 20, 30, "soft", 40.0),
        _case("outside_frame_sum", 2, 3, 20, 30, "sum", 40.0),
        _case("non_finite_soft", 2, 3, 11, 9, "soft", 2.0, _non_finite),
        _case("non_finite_avg", 1, 3, 11, 9, "avg", 2.0, _non_finite),
        _case("collisions_sum", 1, 3, 15, 17, "sum", 1.0, _collide),
        _case("collisions_soft", 2, 3, 15, 17, "soft", 1.0, _collide),
        _case("collisions_linear", 1, 1, 15, 17, "linear", 1.0, _collide),
        _case("388x584_soft", 1, 3, 388, 584, "soft", 8.0),
        # Rows longer than 65535 pixels: a grid of thousands of blocks along x.
        _case("wide_1x70000_c1_sum", 1, 1, 1, 70000, "sum", 0.9),
    ]
    return cases


def benchmark_cases(height: int, width: int) -> list[SampleCase]:
    return [_case("C=3 soft", 1, 3, height, width, "soft", 8.0)]


def gradcheck_case() -> SampleCase:
    return _case("gradcheck_soft", 1, 2, 4, 5, "soft", 1.5)


def worked_examples() -> list[WorkedExample]:
    """reference/UPSTREAM.md §1.4."""
    image = torch.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]])
    flow = torch.zeros(1, 2, 2, 3)
    flow[0, 0, 0, 0], flow[0, 1, 0, 0] = 0.5, 0.25
    flow[0, 0, 1, 2] = 0.5
    collide_image = torch.tensor([[[[10.0, 20.0]]]])
    collide_flow = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]]]])
    collide_metric = torch.tensor([[[[0.0, math.log(3.0)]]]])
    return [
        WorkedExample(
            "upstream_sum",
            (image, flow, None),
            {"mode": "sum", "eps": 1e-7},
            torch.tensor([[[[0.375, 2.375, 3.0], [4.125, 5.125, 3.0]]]]),
        ),
        WorkedExample(
            "upstream_avg",
            (image, flow, None),
            {"mode": "avg", "eps": 1e-7},
            torch.tensor([[[[1.0, 1.727273, 3.0], [3.666667, 4.555555, 5.999999]]]]),
        ),
        WorkedExample(
            "upstream_soft_collision",
            (collide_image, collide_flow, collide_metric),
            {"mode": "soft", "eps": 1e-7},
            torch.tensor([[[[0.0, 17.5]]]]),
        ),
    ]


def invalid_cases() -> list[InvalidCase]:
    image = torch.rand(1, 3, 4, 5)
    flow = torch.zeros(1, 2, 4, 5)
    metric = torch.zeros(1, 1, 4, 5)
    soft = {"mode": "soft", "eps": 1e-7}
    return [
        InvalidCase("input_rank", (image[0], flow, metric), soft, r"input must have shape \[N,C,H,W\]"),
        InvalidCase("flow_channels", (image, torch.zeros(1, 3, 4, 5), metric), soft, r"flow must have shape \[N,2,H,W\]"),
        InvalidCase("flow_size", (image, torch.zeros(1, 2, 4, 6), metric), soft, r"flow must have shape \[N,2,H,W\]"),
        InvalidCase("flow_batch", (image, torch.zeros(2, 2, 4, 5), metric), soft, r"flow must have shape \[N,2,H,W\]"),
        InvalidCase("metric_channels", (image, flow, torch.zeros(1, 3, 4, 5)), soft, r"metric must have shape \[N,1,H,W\]"),
        InvalidCase("metric_for_sum", (image, flow, metric), {"mode": "sum", "eps": 1e-7}, r"metric must be None for mode 'sum'"),
        InvalidCase("metric_for_avg", (image, flow, metric), {"mode": "avg", "eps": 1e-7}, r"metric must be None for mode 'avg'"),
        InvalidCase("metric_missing", (image, flow, None), soft, r"metric is required for mode 'soft'"),
        InvalidCase("unknown_mode", (image, flow, metric), {"mode": "softmax", "eps": 1e-7}, r"mode must be one of"),
        InvalidCase("dtype_mismatch", (image, flow.double(), metric), soft, r"share one dtype"),
    ]


SPEC = OpSpec(
    name="softsplat",
    onnx_op_type="SoftSplat",
    summary="forward warping by softmax splatting",
    inputs=(
        TensorSpec("input", "N,C,H,W"),
        TensorSpec("flow", "N,2,H,W"),
        TensorSpec("metric", "N,1,H,W", optional=True),
    ),
    output=TensorSpec("output", "N,C,H,W"),
    attrs=(
        AttrSpec("mode", str, "soft", MODES, "sum | avg | linear | soft"),
        AttrSpec("eps", float, 1e-7, (), "added to the splatted importance before dividing"),
    ),
    dtypes=(torch.float32, torch.float16),
    tolerance=Tolerance(),
    sample_cases=sample_cases,
    gradcheck_case=gradcheck_case,
    worked_examples=worked_examples,
    invalid_cases=invalid_cases,
    benchmark_cases=benchmark_cases,
)
