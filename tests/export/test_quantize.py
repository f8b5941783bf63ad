"""INT8 variants (vfi.export.quantize): Q/DQ only on the inputs of convolutions and matmuls,
symmetric int8 with per-channel weights, never on or feeding a `vfi::` node, function bodies
unchanged, every calibration method, and the result runs in ONNX Runtime CPU."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from PIL import Image

from test_onnx_export import ThreeOps
from vfi.calib.collect import collect
from vfi.export.graph import custom_nodes, metadata
from vfi.export.onnx import export_module, ort_session
from vfi.export.quantize import CALIB_METHODS, QUANTIZED_OPS, QuantizationError, qdq_violations, to_int8
from vfi.plugins.sepconv import sepconv
from vfi.runtime.metrics import psnr

SIZE = (24, 32)


def dims(names):
    height, width = torch.export.Dim("height", min=8, max=4096), torch.export.Dim("width", min=8, max=4096)
    return {name: {2: height, 3: width} for name in names}


class SharedInput(torch.nn.Module):
    """The padded frame feeds a convolution and the SepConv node: the node must keep the float tensor."""

    def __init__(self, kernel: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.kernel = kernel
        self.conv = torch.nn.Conv2d(3, 2 * kernel, kernel)

    def forward(self, frame0, frame1):
        half = self.kernel // 2
        padded = F.pad((frame0 + frame1) / 2, (half, half, half, half), mode="replicate")
        vertical, horizontal = torch.softmax(self.conv(padded), 1).split(self.kernel, 1)
        return sepconv(padded, vertical, horizontal)


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(0)
    base = (rng.random((SIZE[0] + 8, SIZE[1] + 8, 3)) * 255).astype(np.uint8)
    for i in range(6):
        Image.fromarray(base[i % 4 : i % 4 + SIZE[0], i : i + SIZE[1]]).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def calib(frame_folder, tmp_path_factory):
    store = tmp_path_factory.mktemp("calib") / "pairs"
    collect([frame_folder], store, samples=4)
    return store


@pytest.fixture(scope="module")
def three_ops():
    module = ThreeOps().eval()
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    return module, export_module(module, frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"]))


def consumers(model):
    found = {}
    for node in model.graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


@pytest.mark.parametrize("method", CALIB_METHODS)
def test_int8_runs_in_onnx_runtime_with_qdq_only_around_convolutions(three_ops, calib, method):
    module, fp32 = three_ops
    int8 = to_int8(fp32, calib, method)
    assert qdq_violations(int8) == []
    producers = {out: node for node in int8.graph.node for out in node.output}
    weights = {init.name: init for init in int8.graph.initializer}
    convs = [n for n in int8.graph.node if n.op_type == "Conv"]
    assert len(convs) == 3
    for conv in convs:
        activation, weight = (producers[name] for name in conv.input[:2])
        assert activation.op_type == weight.op_type == "DequantizeLinear"
        assert producers[activation.input[0]].op_type == "QuantizeLinear"
        assert numpy_helper.to_array(weights[activation.input[2]]) == 0  # symmetric: zero point 0
        quantized, scale, zero = (numpy_helper.to_array(weights[name]) for name in weight.input)
        assert quantized.dtype == np.int8 and not zero.any()
        assert scale.shape == (quantized.shape[0],)  # per output channel
        assert len(conv.input) < 3 or conv.input[2] in weights and weights[conv.input[2]].data_type == onnx.TensorProto.FLOAT
    assert {n.op_type for n in int8.graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")} == {
        n.op_type for n in fp32.graph.node
    }
    assert [f.SerializeToString() for f in int8.functions] == [f.SerializeToString() for f in fp32.functions]
    meta = metadata(int8)
    assert meta["vfi.precision"] == "int8"
    calibration = json.loads(meta["vfi.calibration"])
    assert calibration["method"] == method and calibration["samples"] == 4 and calibration["quantized_ops"] == list(QUANTIZED_OPS)

    frames = [torch.rand(1, 3, 19, 27) for _ in range(2)]
    with torch.no_grad():
        expected = module(*frames).numpy()
    (actual,) = ort_session(int8).run(None, {"frame0": frames[0].numpy(), "frame1": frames[1].numpy()})
    assert actual.shape == expected.shape and np.isfinite(actual).all()
    assert 20.0 < psnr(actual, expected) < 80.0  # quantized, and still the same computation


def test_custom_nodes_keep_reading_float_tensors(calib):
    module = SharedInput().eval()
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    fp32 = export_module(module, frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"]))
    int8 = to_int8(fp32, calib)
    (node,) = custom_nodes(int8.graph)
    producers = {out: n for n in int8.graph.node for out in n.output}
    assert all(producers[name].op_type not in ("DequantizeLinear", "QuantizeLinear") for name in node.input)
    (conv,) = [n for n in int8.graph.node if n.op_type == "Conv"]
    assert producers[conv.input[0]].op_type == "DequantizeLinear"
    shared = producers[producers[conv.input[0]].input[0]].input[0]  # the float tensor Q/DQ quantizes
    assert shared == node.input[0] and node in consumers(int8)[shared]
    assert qdq_violations(int8) == []
    with torch.no_grad():
        expected = module(*frames).numpy()
    (actual,) = ort_session(int8).run(None, {"frame0": frames[0].numpy(), "frame1": frames[1].numpy()})
    assert psnr(actual, expected) > 30.0


def test_violations_are_found():
    """qdq_violations reports a dequantized tensor feeding anything but a quantized op."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "scale")
    nodes = [
        onnx.helper.make_node("QuantizeLinear", ["x", "scale"], ["q"], name="q"),
        onnx.helper.make_node("DequantizeLinear", ["q", "scale"], ["dq"], name="dq"),
        onnx.helper.make_node("Relu", ["dq"], ["y"], name="relu"),
    ]
    model = onnx.helper.make_model(onnx.helper.make_graph(nodes, "g", [x], [y], [scale]))
    assert qdq_violations(model) == ["dq feeds Relu relu"]


def test_models_taking_more_frames_need_samples_as_long(calib, frame_folder, tmp_path):
    class Three(torch.nn.Module):
        """DSFN-like: three consecutive frames in."""

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(9, 3, 3, padding=1)

        def forward(self, frame0, frame1, frame2):
            return frame1 + self.conv(torch.cat([frame0, frame1, frame2], 1))

    frames = tuple(torch.rand(1, 3, *SIZE) for _ in range(3))
    names = ["frame0", "frame1", "frame2"]
    model = export_module(Three().eval(), frames, names, ["output"], dims(names))
    with pytest.raises(QuantizationError, match=r"samples of 2 frames; this model takes 3 \(collect with `vfi calib collect --frames 3`\)"):
        to_int8(model, calib)
    longer = collect([frame_folder], tmp_path / "runs", samples=2, frames=4)  # the first 3 frames of each feed it
    assert qdq_violations(to_int8(model, tmp_path / "runs", "minmax")) == [] and longer["frames_per_sample"] == 4
    renamed = export_module(Three().eval(), frames, ["a", "b", "c"], ["output"], None)
    with pytest.raises(QuantizationError, match=r"feeds consecutive frames \(frame0, frame1, …\[, t\]\); this model takes \(a, b, c\)"):
        to_int8(renamed, calib)


def test_models_taking_t_are_calibrated_at_the_midpoint(calib):
    class Timed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(6, 3, 3, padding=1)

        def forward(self, frame0, frame1, t):
            return frame0 + self.conv(torch.cat([frame0, frame1], 1)) * t.view(-1, 1, 1, 1)

    module = Timed().eval()
    args = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE), torch.full((1,), 0.5))
    names = ["frame0", "frame1", "t"]
    fp32 = export_module(module, args, names, ["output"], {**dims(names[:2]), "t": None})
    int8 = to_int8(fp32, calib, "minmax")
    assert qdq_violations(int8) == [] and sum(n.op_type == "QuantizeLinear" for n in int8.graph.node) == 1
    with torch.no_grad():
        expected = module(*args).numpy()
    (actual,) = ort_session(int8).run(None, dict(zip(names, (a.numpy() for a in args))))
    assert 25.0 < psnr(actual, expected) < 80.0
