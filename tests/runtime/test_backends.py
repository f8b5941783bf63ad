"""Backends: the same model gives the same frames on torch and ONNX Runtime; each backend's
errors name what is wrong; the TensorRT engine sidecar check."""

from __future__ import annotations

import importlib.util
import json
from fractions import Fraction as F

import numpy as np
import pytest
import torch

import toy_models
from vfi.export.engine_sidecar import EngineSidecarError, read_sidecar, sidecar_path, verify_sidecar, write_sidecar
from vfi.export.onnx import export_module, save_model
from vfi.runtime.backends import BackendError, check_io, open_backend
from vfi.runtime.interpolator import Interpolator, Request

pytestmark = pytest.mark.usefixtures("toy_registered")

TRT_MISSING = importlib.util.find_spec("tensorrt") is None


def export_toy(card_name: str, path):
    card = next(c for c in toy_models.CARDS if c.name == card_name)
    h, w = torch.export.Dim("height", min=1, max=4096), torch.export.Dim("width", min=1, max=4096)
    args = (torch.rand(1, 3, 21, 34), torch.rand(1, 3, 21, 34)) + ((torch.full((1,), 0.5),) if card.arbitrary_t else ())
    names = ["frame0", "frame1"] + (["t"] if card.arbitrary_t else [])
    dynamic = {"frame0": {2: h, 3: w}, "frame1": {2: h, 3: w}, **({"t": None} if card.arbitrary_t else {})}
    return save_model(export_module(card.build(), args, names, ["output"], dynamic), path)


@pytest.mark.parametrize("model", ["toy_blend", "toy_mid"])
def test_ort_runs_an_exported_file_like_torch(tmp_path, model):
    path = export_toy(model, tmp_path / f"{model}.onnx")
    rng = np.random.default_rng(0)
    f0, f1 = (rng.integers(0, 256, (37, 53, 3), np.uint8) for _ in range(2))
    on_torch = Interpolator(model=model).interpolate(f0, f1, 0.25)
    on_ort = Interpolator(onnx=path, threads=1).interpolate(f0, f1, 0.25)
    assert Interpolator(onnx=path).arbitrary_t == (model == "toy_blend")
    np.testing.assert_array_equal(on_torch, on_ort)


def test_ort_runs_files_with_a_fixed_batch_of_one_on_batches(tmp_path):
    path = export_toy("toy_blend", tmp_path / "blend.onnx")  # like `vfi export`: batch 1, t of shape [1]
    interp = Interpolator(onnx=path, batch_size=3)
    pairs = [(np.full((3, 5, 7), a, np.float32), np.full((3, 5, 7), 1 - a, np.float32)) for a in (0, 0.25, 1)]
    requests = [Request(i, *pairs[i], F(i + 1, 4)) for i in range(3)]
    for request, output in zip(requests, interp.run(requests)):
        np.testing.assert_allclose(output, request.frame0 + float(request.t) * (request.frame1 - request.frame0), atol=1e-6)


@pytest.mark.parametrize("dynamic_batch", [False, True])
def test_ort_streams_split_a_batch_without_changing_it(tmp_path, dynamic_batch):
    card = next(c for c in toy_models.CARDS if c.name == "toy_blend")
    size = {2: torch.export.Dim("height", min=1, max=64), 3: torch.export.Dim("width", min=1, max=64)}
    batch = {0: torch.export.Dim("batch", min=1, max=64)} if dynamic_batch else {}
    n = 2 if dynamic_batch else 1  # an example batch of 1 would fix the batch dimension
    args = (torch.rand(n, 3, 5, 7), torch.rand(n, 3, 5, 7), torch.full((n,), 0.5))
    dynamic = {"frame0": batch | size, "frame1": batch | size, "t": batch or None}
    path = save_model(export_module(card.build(), args, ["frame0", "frame1", "t"], ["output"], dynamic), tmp_path / "b.onnx")
    rng = np.random.default_rng(0)
    frame0, frame1 = (rng.random((5, 3, 5, 7), np.float32) for _ in range(2))
    t = rng.random(5).astype(np.float32)
    serial, concurrent = (open_backend(onnx=path, threads=1, streams=streams) for streams in (1, 3))
    for backend in (serial, concurrent):
        backend.activate()
    assert serial.batched == dynamic_batch
    np.testing.assert_array_equal(concurrent.infer(frame0, frame1, t), serial.infer(frame0, frame1, t))
    np.testing.assert_allclose(concurrent.infer(frame0, frame1, t), frame0 + t[:, None, None, None] * (frame1 - frame0), atol=1e-6)
    concurrent.close()
    concurrent.close()  # safe twice
    with pytest.raises(BackendError, match="--streams must be at least 1"):
        open_backend(onnx=path, streams=0)
    with pytest.raises(BackendError, match="--streams applies to the ort backend, not torch"):
        open_backend(model="toy_blend", streams=2)


def test_backend_choice_and_its_errors(tmp_path):
    assert open_backend(model="toy_blend").name == "torch"
    with pytest.raises(BackendError, match="exactly one of --model, --onnx, --engine"):
        open_backend(model="toy_blend", onnx=tmp_path / "x.onnx")
    with pytest.raises(BackendError, match="torch backend runs registered models"):
        open_backend("torch", onnx=tmp_path / "x.onnx")
    with pytest.raises(BackendError, match="trt backend runs engines"):
        open_backend("trt", model="toy_blend")
    with pytest.raises(BackendError, match="--weights goes with --model"):
        open_backend(onnx=tmp_path / "x.onnx", weights=tmp_path / "w.pth")
    with pytest.raises(BackendError, match="--precision fp16 applies to the torch backend"):
        open_backend("ort", model="toy_blend", precision="fp16")
    with pytest.raises(BackendError, match="fp16 runs on a GPU"):
        open_backend(model="toy_blend", precision="fp16")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(BackendError, match="--device cuda needs a CUDA GPU"):
        open_backend(model="toy_blend", device="cuda").activate()


def test_ort_without_the_gpu_package_says_what_to_install(tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    backend = open_backend(onnx=export_toy("toy_mid", tmp_path / "m.onnx"), device="cuda")
    with pytest.raises(BackendError, match="no CUDAExecutionProvider .*pip install onnxruntime-gpu"):
        backend.activate()


def test_models_with_other_io_are_refused(tmp_path):
    with pytest.raises(BackendError, match=r"takes \(frame0, frame1, frame2\) .* not models with other I/O such as DSFN"):
        check_io("dsfn-like", ["frame0", "frame1", "frame2"], ["interp01", "sharp1", "interp12"])
    assert check_io("x", ["frame0", "frame1", "t"], ["output"]) is True
    assert check_io("x", ["frame0", "frame1"], ["output"]) is False


def test_registered_dsfn_is_refused_by_the_runtime():
    from vfi.models import MODELS

    if "dsfn_net" not in MODELS:
        pytest.skip("dsfn_net is not registered in this version")
    with pytest.raises(BackendError, match="model dsfn_net: takes"):
        Interpolator(model="dsfn_net")


# -- engine sidecar ------------------------------------------------------------------------------

KEY = {
    "onnx_sha256": "ab" * 32, "onnx_path": "model.onnx", "precision": "fp16",
    "profile": {"min": [64, 64], "opt": [360, 640], "max": [1080, 1920]}, "tensorrt_version": "10.13.0",
    "gpu_name": "NVIDIA H200", "compute_capability": "9.0", "plugin_sha256": None, "vfi_version": "0.1.0",
}
HERE = {"tensorrt_version": "10.13.0", "gpu_name": "NVIDIA H200", "compute_capability": "9.0", "plugin_sha256": None}


@pytest.fixture
def engine(tmp_path):
    path = tmp_path / "model.engine"
    path.write_bytes(b"serialized engine")
    write_sidecar(path, KEY)
    return path


def test_sidecar_round_trip(engine):
    assert sidecar_path(engine).name == "model.engine.json"
    assert verify_sidecar(engine, HERE)["profile"] == KEY["profile"]


@pytest.mark.parametrize("key, value", [("tensorrt_version", "11.0.0"), ("compute_capability", "8.9"),
                                        ("gpu_name", "NVIDIA L4"), ("plugin_sha256", "cd" * 32)])
def test_sidecar_mismatch_says_what_differs_and_how_to_rebuild(engine, key, value):
    with pytest.raises(EngineSidecarError) as error:
        verify_sidecar(engine, {**HERE, key: value})
    message = str(error.value)
    assert f"{key} {KEY[key]!r} (this machine: {value!r})" in message
    assert f"rebuild it here with `vfi build model.onnx -o {engine}`" in message


def test_sidecar_of_another_file(engine):
    engine.write_bytes(b"replaced")
    with pytest.raises(EngineSidecarError, match="changed or replaced after it was built"):
        read_sidecar(engine)


def test_missing_or_broken_sidecar(engine):
    sidecar = sidecar_path(engine)
    sidecar.write_text("{not json")
    with pytest.raises(EngineSidecarError, match="not a readable engine sidecar"):
        read_sidecar(engine)
    sidecar.write_text(json.dumps({"engine_sha256": "x"}))
    with pytest.raises(EngineSidecarError, match="lacks onnx_sha256, precision"):
        read_sidecar(engine)
    sidecar.unlink()
    with pytest.raises(EngineSidecarError, match="no sidecar model.engine.json"):
        read_sidecar(engine)


def test_engine_needing_plugins_without_them(engine, monkeypatch):
    from vfi.runtime.backends import trt

    write_sidecar(engine, {**KEY, "plugin_sha256": "cd" * 32})
    monkeypatch.setattr(trt, "_built_plugin_library", lambda: None)
    with pytest.raises(BackendError, match="built with the vfi plugin library .* pass it with --plugins FILE"):
        open_backend(engine=engine)


@pytest.mark.skipif(not TRT_MISSING, reason="checks the message when TensorRT is missing; TensorRT is installed here")
def test_trt_backend_without_tensorrt_is_one_clear_line(engine):
    backend = open_backend(engine=engine)
    assert backend.min_size == 64
    with pytest.raises(BackendError, match=r"the trt backend needs tensorrt, .*pip install 'vfi\[trt\]'"):
        backend.activate()
