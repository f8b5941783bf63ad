"""The exporter choice, pinned: a model using all three ops exports to `vfi::` nodes with function
bodies and dynamic height and width, and ONNX Runtime runs it like PyTorch at other sizes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from vfi.plugins.onnx_model import custom_nodes, node_attrs
from vfi.export.onnx import export_module, save_model
from vfi.plugins.onnx_model import ort_session
from vfi.plugins.adacof import adacof
from vfi.plugins.sepconv import sepconv
from vfi.plugins.softsplat import softsplat


class ThreeOps(torch.nn.Module):
    """Kernels, offsets and flow come from small convolutions so every op sees real data flow;
    padding to a multiple of 4 and cropping back exercise symbolic shape arithmetic."""

    def __init__(self, kernel: int = 5, taps: int = 3, dilation: int = 2):
        super().__init__()
        torch.manual_seed(0)
        self.kernel, self.taps, self.dilation = kernel, taps, dilation
        self.flow = torch.nn.Conv2d(6, 3, 3, padding=1)
        self.sep = torch.nn.Conv2d(6, 2 * kernel, 3, padding=1)
        self.coef = torch.nn.Conv2d(6, 3 * taps * taps, 3, padding=1)

    def forward(self, frame0, frame1):
        height, width = frame0.shape[2:]
        pad_h, pad_w = (4 - height % 4) % 4, (4 - width % 4) % 4
        x0 = F.pad(frame0, (0, pad_w, 0, pad_h), mode="replicate")
        x1 = F.pad(frame1, (0, pad_w, 0, pad_h), mode="replicate")
        both = torch.cat([x0, x1], 1)

        flow_metric = self.flow(both)
        metric = flow_metric[:, 2:].clamp(-20, 20)
        splatted = softsplat(x0, flow_metric[:, :2] * 3, metric, "soft", 1e-7)

        vertical, horizontal = torch.softmax(self.sep(both), 1).split(self.kernel, 1)
        half = self.kernel // 2
        separable = sepconv(F.pad(x1, (half, half, half, half), mode="replicate"), vertical, horizontal)

        weight, alpha, beta = self.coef(both).split(self.taps * self.taps, 1)
        border = (self.taps - 1) * self.dilation // 2
        padded = F.pad(x0, (border, border, border, border), mode="replicate")
        collaborative = adacof(padded, torch.softmax(weight, 1), alpha * 2, beta * 2, self.dilation)

        return ((splatted + separable + collaborative) / 3)[:, :, :height, :width]


@pytest.fixture(scope="module")
def exported():
    module = ThreeOps().eval()
    frames = (torch.rand(1, 3, 21, 30), torch.rand(1, 3, 21, 30))
    height, width = torch.export.Dim("height", min=2, max=4096), torch.export.Dim("width", min=2, max=4096)
    dims = {"frame0": {2: height, 3: width}, "frame1": {2: height, 3: width}}
    model = export_module(module, frames, ["frame0", "frame1"], ["output"], dims)
    return module, model


def test_custom_ops_are_single_nodes_with_plugin_attributes(exported):
    _, model = exported
    nodes = {node.op_type: node for node in custom_nodes(model.graph)}
    assert sorted(nodes) == ["AdaCoF", "SepConv", "SoftSplat"]
    for node in nodes.values():
        attrs = node_attrs(node)
        assert (attrs["plugin_version"], attrs["plugin_namespace"]) == ("1", "vfi")
    assert node_attrs(nodes["SoftSplat"])["mode"] == "soft"
    assert node_attrs(nodes["AdaCoF"])["dilation"] == 2
    functions = {(f.name, f.overload) for f in model.functions}
    assert functions == {("AdaCoF", ""), ("SepConv", ""), ("SoftSplat", "soft")}


def test_height_and_width_stay_dynamic(exported):
    _, model = exported
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        assert dims[2].dim_param and dims[3].dim_param, f"{value.name} has a fixed spatial size"


@pytest.mark.parametrize("size", [(21, 30), (17, 29), (40, 24), (5, 3)])
def test_onnx_runtime_matches_pytorch_at_any_size(exported, size):
    module, model = exported
    frames = [torch.rand(1, 3, *size) for _ in range(2)]
    with torch.no_grad():
        expected = module(*frames).numpy()
    (actual,) = ort_session(model).run(None, {"frame0": frames[0].numpy(), "frame1": frames[1].numpy()})
    assert actual.shape == expected.shape == (1, 3, *size)
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=0)


def test_saved_file_round_trips(exported, tmp_path):
    _, model = exported
    path = save_model(model, tmp_path / "three_ops.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["three_ops.onnx"]
    loaded = onnx.load(path)
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.ir_version == model.ir_version
