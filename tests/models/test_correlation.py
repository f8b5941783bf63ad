"""The SoftSplat cost volume: a direct definition, upstream's channel order (k = (dy+4)·9 + dx+4),
the mean over channels, zeros outside the frame, gradients, and ONNX export with dynamic sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vfi.export.onnx import export_module
from vfi.plugins.onnx_model import ort_session
from vfi.models.correlation import correlation


def direct_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
    """out[:, k, y, x] = Σ_c f1[:,c,y,x] · f2[:,c,y+dy,x+dx] / C, gathered with explicit indices."""
    n, c, h, w = f1.shape
    ys, xs = torch.arange(h).view(h, 1), torch.arange(w).view(1, w)
    planes = []
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            sy, sx = ys + dy, xs + dx
            inside = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
            gathered = f2[:, :, sy.clamp(0, h - 1), sx.clamp(0, w - 1)] * inside
            planes.append((f1 * gathered).sum(1) / c)
    return torch.stack(planes, 1)


@pytest.mark.parametrize("shape, d", [((1, 16, 12, 15), 4), ((2, 5, 7, 3), 4), ((1, 3, 9, 11), 1), ((2, 4, 5, 6), 0)])
def test_matches_the_direct_definition(shape, d):
    generator = torch.Generator().manual_seed(0)
    f1, f2 = torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)
    out = correlation(f1, f2, d)
    assert out.shape == (shape[0], (2 * d + 1) ** 2, *shape[2:])
    torch.testing.assert_close(out, direct_correlation(f1, f2, d), rtol=0, atol=1e-6)


def test_channel_index_is_row_offset_major():
    """A match displaced by dx = +2 (right), dy = -3 (up) lands in channel (−3+4)·9 + (2+4) = 15,
    and the value is divided by C (C = 4 channels of 1 sum to 4)."""
    f1, f2 = torch.zeros(1, 4, 11, 11), torch.zeros(1, 4, 11, 11)
    f1[:, :, 5, 5] = 1.0
    f2[:, :, 5 - 3, 5 + 2] = 1.0
    at_pixel = correlation(f1, f2)[0, :, 5, 5]
    expected = torch.zeros(81)
    expected[15] = 1.0
    torch.testing.assert_close(at_pixel, expected, rtol=0, atol=0)


def test_zero_outside_the_frame_and_no_activation():
    f1 = torch.ones(1, 3, 6, 6)
    out = correlation(f1, -f1)
    centre = 4 * 9 + 4
    assert torch.equal(out[0, centre], torch.full((6, 6), -1.0))  # negative: no (leaky) ReLU
    # At the top-left pixel every displacement up or left reads the zero border.
    corner = out[0, :, 0, 0].view(9, 9)
    assert torch.equal(corner[:4], torch.zeros(4, 9)) and torch.equal(corner[:, :4], torch.zeros(9, 4))
    assert torch.equal(corner[4:, 4:], torch.full((5, 5), -1.0))


def test_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="one shape"):
        correlation(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 5))


def test_gradients_match_finite_differences():
    generator = torch.Generator().manual_seed(1)
    f1 = torch.randn(1, 2, 4, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    f2 = torch.randn(1, 2, 4, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: correlation(a, b, 2), (f1, f2))


class _Correlation(torch.nn.Module):
    def forward(self, f1, f2):
        return correlation(f1, f2)


@pytest.mark.slow
def test_exports_with_dynamic_sizes_and_runs_in_onnx_runtime():
    height, width = torch.export.Dim("height", min=2, max=4096), torch.export.Dim("width", min=2, max=4096)
    dims = {"f1": {2: height, 3: width}, "f2": {2: height, 3: width}}
    example = (torch.randn(1, 8, 13, 21), torch.randn(1, 8, 13, 21))
    model = export_module(_Correlation(), example, ["f1", "f2"], ["volume"], dims)
    for value in model.graph.input:
        assert all(dim.dim_param for dim in value.type.tensor_type.shape.dim[2:]), value.name
    ops = {node.op_type for node in model.graph.node}
    assert not any(node.domain not in ("", "ai.onnx") for node in model.graph.node), ops

    generator = torch.Generator().manual_seed(2)
    f1, f2 = torch.randn(1, 8, 9, 30, generator=generator), torch.randn(1, 8, 9, 30, generator=generator)
    (actual,) = ort_session(model).run(None, {"f1": f1.numpy(), "f2": f2.numpy()})
    np.testing.assert_allclose(actual, correlation(f1, f2).numpy(), rtol=0, atol=1e-5)
