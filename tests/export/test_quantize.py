"""INT8 variants (vfi.export.quantize): with the `ort` quantizer Q/DQ only on the inputs of
convolutions and matmuls, symmetric int8 with per-channel weights; with either quantizer
(`modelopt` where NVIDIA ModelOpt is installed) never on or feeding a `vfi::` node, function
bodies unchanged, every calibration method, and the result runs in ONNX Runtime CPU."""

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
from vfi.export.graph import metadata
from vfi.plugins.onnx_model import custom_nodes
from vfi.export.onnx import export_module
from vfi.plugins.onnx_model import ort_session
from vfi.export import quantize
from vfi.export.artifact import ArtifactInfo
from vfi.export.quantize import CALIB_METHODS, MODELOPT_METHODS, QuantizationError, qdq_violations, to_int8
from vfi.plugins.sepconv import sepconv
from vfi.parity.metrics import psnr

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
    assert calibration["method"] == method and calibration["samples"] == 4 and calibration["quantized_ops"] == ["Conv"]
    assert calibration["quantizer"] == "ort" == ArtifactInfo.from_metadata(meta).quantizer

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




def quantized_input_graph(readers: list[onnx.NodeProto]) -> onnx.ModelProto:
    """x -> QuantizeLinear -> DequantizeLinear "dq" -> `readers`, whose last output is "y"."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "scale")
    nodes = [
        onnx.helper.make_node("QuantizeLinear", ["x", "scale"], ["q"], name="q"),
        onnx.helper.make_node("DequantizeLinear", ["q", "scale"], ["dq"], name="dq"),
        *readers,
    ]
    return onnx.helper.make_model(onnx.helper.make_graph(nodes, "g", [x], [y], [scale]))


def test_violations_are_found():
    """qdq_violations reports a dequantized tensor feeding anything but a quantized op."""
    model = quantized_input_graph([onnx.helper.make_node("Relu", ["dq"], ["y"], name="relu")])
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


class WideSharedInput(torch.nn.Module):
    """SharedInput with a 16-channel layer between: ModelOpt leaves convolutions with fewer than 16
    input and output channels unquantized (TensorRT runs them no faster in INT8)."""

    def __init__(self, kernel: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.kernel = kernel
        self.features = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.conv = torch.nn.Conv2d(16, 2 * kernel, kernel)

    def forward(self, frame0, frame1):
        half = self.kernel // 2
        padded = F.pad((frame0 + frame1) / 2, (half, half, half, half), mode="replicate")
        vertical, horizontal = torch.softmax(self.conv(torch.relu(self.features(padded))), 1).split(self.kernel, 1)
        return sepconv(padded, vertical, horizontal)


def function_lines(model):
    """Every function's text (onnx.printer: one line per node, indented by nesting) in sorted lines."""
    return [sorted(onnx.printer.to_text(function).splitlines()) for function in model.functions]


def modelopt_or_skip():
    pytest.importorskip("modelopt.onnx.quantization", reason="NVIDIA ModelOpt is not installed (pip install 'vfi[modelopt]')")


@pytest.mark.parametrize("method", MODELOPT_METHODS)
def test_modelopt_places_qdq_by_its_own_rules_and_leaves_the_custom_ops_alone(calib, method, tmp_path, monkeypatch):
    modelopt_or_skip()
    monkeypatch.chdir(tmp_path)
    module = WideSharedInput().eval()
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    fp32 = export_module(module, frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"]))
    onnx.helper.set_model_props(fp32, {"vfi.model": "shared_input"})
    int8 = to_int8(fp32, calib, method, quantizer="modelopt")
    assert list(tmp_path.iterdir()) == []  # nothing left in the working directory
    assert qdq_violations(int8) == []
    (node,) = custom_nodes(int8.graph)
    producers = {out: n for n in int8.graph.node for out in n.output}
    assert all(producers[name].op_type not in ("DequantizeLinear", "QuantizeLinear") for name in node.input if name in producers)
    for conv in (n for n in int8.graph.node if n.op_type == "Conv"):
        assert [producers[name].op_type for name in conv.input[:2]] == ["DequantizeLinear", "DequantizeLinear"]
    first = next(n for n in int8.graph.node if n.op_type == "Conv")
    assert producers[producers[first.input[0]].input[0]].input[0] == node.input[0]  # the float tensor quantized for it
    # The same bodies up to the order of their nodes: ModelOpt's round trip through onnx-graphsurgeon
    # sorts every body (and the Loop bodies in it) anew, and drops the empty `overload` field.
    assert function_lines(int8) == function_lines(fp32)
    # ModelOpt drops metadata_props; the variant keeps the fp32 file's and records the quantizer.
    meta = metadata(int8)
    calibration = json.loads(meta["vfi.calibration"])
    assert meta["vfi.model"] == "shared_input" and meta["vfi.precision"] == "int8"
    assert calibration["quantizer"] == "modelopt" and calibration["method"] == method and "Conv" in calibration["quantized_ops"]
    assert ArtifactInfo.from_metadata(meta).quantizer == "modelopt"
    assert all(value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for value in [*int8.graph.input, *int8.graph.output])
    with torch.no_grad():
        expected = module(*frames).numpy()
    feeds = {"frame0": frames[0].numpy(), "frame1": frames[1].numpy()}
    (actual,) = ort_session(int8).run(None, feeds)
    (unquantized,) = ort_session(fp32).run(None, feeds)
    # Quantized (well below the float file's agreement), and still the same computation.
    assert 20.0 < psnr(actual, expected) < psnr(unquantized, expected) - 20.0


def test_modelopt_leaves_the_ort_quantizer_of_this_process_as_it_was(three_ops, calib):
    """ModelOpt patches onnxruntime.quantization in the process it runs in (and `ort` then fails on
    some models), so it runs in a process of its own."""
    modelopt_or_skip()
    from onnxruntime.quantization.calibrate import CalibraterBase, MinMaxCalibrater

    before = to_int8(three_ops[1], calib, "minmax")
    patched = (MinMaxCalibrater.collect_data, CalibraterBase.__init__)
    wide = WideSharedInput().eval()
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    to_int8(export_module(wide, frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"])), calib, "minmax", "modelopt")
    assert (MinMaxCalibrater.collect_data, CalibraterBase.__init__) == patched
    assert to_int8(three_ops[1], calib, "minmax").SerializeToString() == before.SerializeToString()


def test_a_dequantized_tensor_feeding_a_custom_node_is_a_violation_for_either_quantizer():
    model = quantized_input_graph([
        onnx.helper.make_node("Relu", ["dq"], ["r"], name="relu"),
        onnx.helper.make_node("SepConv", ["r", "dq"], ["y"], name="sepconv", domain="vfi"),
    ])
    onnx.helper.set_model_props(model, {"vfi.precision": "int8", "vfi.calibration": json.dumps({"quantizer": "modelopt"})})
    assert qdq_violations(model) == ["dq feeds vfi::SepConv sepconv"]  # Relu may: ModelOpt placed it


def test_modelopt_refusals_name_the_cause(three_ops, calib, monkeypatch):
    with pytest.raises(QuantizationError, match="ModelOpt's INT8 calibration has no percentile method; use --calib-method minmax or entropy"):
        to_int8(three_ops[1], calib, "percentile", quantizer="modelopt")

    def missing(name):
        raise ImportError(f"No module named {name.split('.')[0]!r}")

    monkeypatch.setattr(quantize.importlib, "import_module", missing)
    with pytest.raises(QuantizationError, match=r"--quantizer modelopt needs NVIDIA ModelOpt \(No module named 'modelopt'\); install it with pip install 'vfi\[modelopt\]'"):
        to_int8(three_ops[1], calib, "minmax", quantizer="modelopt")
