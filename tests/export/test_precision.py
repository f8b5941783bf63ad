"""fp16 variants (vfi.export.precision): run in ONNX Runtime CPU, keep the `vfi::` nodes with one
I/O type and their function bodies unchanged, keep graph I/O fp32 unless asked, and list every
region left in fp32 with its reason."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto

from test_onnx_export import ThreeOps
from vfi.export.graph import metadata, outer_reads, subgraphs
from vfi.plugins.onnx_model import custom_nodes
from vfi.export.onnx import export_module
from vfi.plugins.onnx_model import op_model, ort_session
from vfi.export.precision import value_types, check_custom_node_types, custom_node_types, to_fp16
from vfi.plugins import get_op
from vfi.parity.metrics import psnr

SIZE = (21, 30)


def dims(names):
    height, width = torch.export.Dim("height", min=8, max=4096), torch.export.Dim("width", min=8, max=4096)
    return {name: {2: height, 3: width} for name in names}


@pytest.fixture(scope="module")
def three_ops():
    module = ThreeOps().eval()
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    return module, export_module(module, frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"]))


def run(model, frames):
    session = ort_session(model)
    feeds = {i.name: f.numpy().astype(np.float16 if i.type == "tensor(float16)" else np.float32) for i, f in zip(session.get_inputs(), frames)}
    return session.run(None, feeds)[0]


def io_types(model):
    return [v.type.tensor_type.elem_type for v in list(model.graph.input) + list(model.graph.output)]


def test_fp16_runs_in_onnx_runtime_close_to_pytorch(three_ops):
    module, fp32 = three_ops
    fp16 = to_fp16(fp32)
    torch.manual_seed(1)
    frames = [torch.rand(1, 3, 33, 47) for _ in range(2)]  # another size: H and W stay dynamic
    with torch.no_grad():
        expected = module(*frames).numpy()
    actual = run(fp16, frames)
    assert actual.dtype == np.float32 and actual.shape == expected.shape
    assert np.isfinite(actual).all()
    assert psnr(actual, expected) >= 45.0
    assert psnr(actual, expected) < psnr(run(fp32, frames), expected)  # it did compute in fp16


def test_custom_nodes_take_fp16_and_their_bodies_are_untouched(three_ops):
    _, fp32 = three_ops
    fp16 = to_fp16(fp32)
    assert set(custom_node_types(fp32).values()) == {frozenset({"fp32"})}
    assert set(custom_node_types(fp16).values()) == {frozenset({"fp16"})}
    assert sorted(n.op_type for n in custom_nodes(fp16.graph)) == ["AdaCoF", "SepConv", "SoftSplat"]
    for before, after in zip(custom_nodes(fp32.graph), custom_nodes(fp16.graph)):
        assert list(before.attribute) == list(after.attribute) and before.overload == after.overload
    assert [f.SerializeToString() for f in fp16.functions] == [f.SerializeToString() for f in fp32.functions]
    assert not any(init.data_type == TensorProto.FLOAT for init in fp16.graph.initializer)


def test_graph_io_is_fp32_unless_asked(three_ops):
    _, fp32 = three_ops
    assert io_types(to_fp16(fp32)) == [TensorProto.FLOAT] * 3
    half_io = to_fp16(fp32, io_dtype="fp16")
    assert io_types(half_io) == [TensorProto.FLOAT16] * 3
    assert run(half_io, [torch.rand(1, 3, *SIZE) for _ in range(2)]).dtype == np.float16
    meta = metadata(half_io)
    assert (meta["vfi.precision"], meta["vfi.io_dtype"]) == ("fp16", "fp16")
    assert json.loads(meta["vfi.fp32_regions"]) == []


class SamplingAndCasts(torch.nn.Module):
    """Resize and GridSample (kept fp32) and an integer-to-float Cast (retargeted to fp16)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(6, 2, 3, padding=1)

    def forward(self, frame0, frame1):
        height, width = frame0.shape[2:]
        flow = torch.tanh(self.conv(torch.cat([frame0, frame1], 1))).permute(0, 2, 3, 1) * 0.1
        ys = torch.arange(height).float() / (height - 1) * 2 - 1
        xs = torch.arange(width).float() / (width - 1) * 2 - 1
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], -1)[None] + flow
        warped = F.grid_sample(frame1, grid, align_corners=True)
        small = F.interpolate(frame0, scale_factor=0.5, mode="bilinear")
        return warped + F.interpolate(small, size=(height, width), mode="bilinear")


def test_kept_fp32_regions_are_listed_with_reasons_and_casts_follow():
    module = SamplingAndCasts().eval()
    frames = (torch.rand(1, 3, 16, 20), torch.rand(1, 3, 16, 20))
    fp32 = export_module(module, frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"]))
    assert any(n.op_type == "Cast" for n in fp32.graph.node)
    fp16 = to_fp16(fp32)
    regions = {r["op_type"]: r for r in json.loads(metadata(fp16)["vfi.fp32_regions"])}
    assert set(regions) == {"GridSample", "Resize"}
    assert regions["GridSample"]["nodes"] == [n.name for n in fp32.graph.node if n.op_type == "GridSample"]
    assert len(regions["Resize"]["nodes"]) == 2 and "scales input must stay float32" in regions["Resize"]["reason"]
    assert "half a pixel" in regions["GridSample"]["reason"]
    with torch.no_grad():
        expected = module(*frames).numpy()
    assert psnr(run(fp16, frames), expected) >= 45.0


def test_mixed_custom_node_types_are_refused():
    model = op_model(get_op("sepconv"), {}, (True, True, True))
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    with pytest.raises(ValueError, match="mixes I/O types"):
        check_custom_node_types(model)


def test_export_cli_refuses_inconsistent_precision_options(tmp_path):
    for args, message in (
        (["--precision", "int8"], "--precision int8 needs --calib DIR"),
        (["--calib", str(tmp_path)], "--calib goes only with --precision int8"),
        (["--io-dtype", "fp16"], "--io-dtype fp16 goes only with --precision fp16"),
        (["--precision", "int8", "--calib", str(tmp_path)], "not a calibration folder"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "vfi", "export", "sepconv_net", "-o", str(tmp_path / "x.onnx"), *args],
            capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert message in line
    assert not (tmp_path / "x.onnx").exists()


def test_fp16_of_an_fp16_model_is_refused(three_ops):
    with pytest.raises(ValueError, match="already converted to float16"):
        to_fp16(to_fp16(three_ops[1]))


class Iterate(torch.nn.Module):
    """A data-dependent loop, as the classic model's TV-L1 iterations: exported as an ONNX Loop
    whose body reads outer tensors (a convolution's result, constants) and produces the output."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, frame0, frame1):
        target = self.conv(frame1)
        return torch.while_loop(
            lambda i, x: i < 3, lambda i, x: (i + 1, x * 0.5 + target * 0.25 + 0.125), (torch.zeros((), dtype=torch.int64), frame0)
        )[1]


@pytest.fixture(scope="module")
def iterate():
    module = Iterate().eval()
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    model = export_module(module, frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"]))
    assert [node.op_type for node in model.graph.node if node.op_type == "Loop"] == ["Loop"]
    return module, model


@pytest.mark.parametrize("io_dtype", ["fp32", "fp16"])
def test_control_flow_keeps_float32_with_float32_copies_of_what_its_body_reads(iterate, io_dtype):
    module, fp32 = iterate
    fp16 = to_fp16(fp32, io_dtype)
    (loop,) = [node for node in fp16.graph.node if node.op_type == "Loop"]
    types = value_types(fp16)
    reads = outer_reads(subgraphs(loop)[0])
    assert any(name.startswith("conv2d") for name in reads)  # the computed tensor, through a Cast
    assert all(types[name] != TensorProto.FLOAT16 for name in reads)
    assert types[loop.output[-1]] == TensorProto.FLOAT and types["conv2d"] == TensorProto.FLOAT16
    regions = {r["op_type"]: r for r in json.loads(metadata(fp16)["vfi.fp32_regions"])}
    assert regions["Loop"]["nodes"] == [loop.name] and "control flow" in regions["Loop"]["reason"]
    frames = [torch.rand(1, 3, 33, 47) for _ in range(2)]
    with torch.no_grad():
        expected = module(*frames).numpy()
    actual = run(fp16, frames)
    assert actual.dtype == (np.float16 if io_dtype == "fp16" else np.float32)  # graph output typed as asked
    assert psnr(actual.astype(np.float32), expected) >= 45.0


class Average(torch.nn.Module):
    def forward(self, frame0, frame1):
        return (frame0 + frame1) * 0.5


def test_int8_refuses_control_flow_and_models_with_nothing_to_quantize(iterate, tmp_path):
    from vfi.export.quantize import QuantizationError, to_int8

    with pytest.raises(QuantizationError, match=r"does not support control flow \(Loop nodes\)"):
        to_int8(iterate[1], tmp_path)  # refused before the calibration folder is read
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    average = export_module(Average().eval(), frames, ["frame0", "frame1"], ["output"], dims(["frame0", "frame1"]))
    with pytest.raises(QuantizationError, match="nothing to quantize: the model has no Conv, MatMul, Gemm nodes"):
        to_int8(average, tmp_path)
