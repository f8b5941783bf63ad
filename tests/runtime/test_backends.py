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
from vfi.plugins.tensorrt_loading import TensorRTSetupError
from vfi.runtime.backends import BackendError, OrtConfig, backend_config, check_io, open_backend
from vfi.runtime.interpolator import Interpolator
from vfi.runtime.timesteps import Request

pytestmark = pytest.mark.usefixtures("toy_registered")


def opened(*args, **options):
    """The backend the flat options select, as the CLI and vfi.Interpolator open it."""
    return open_backend(backend_config(*args, **options))

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
    serial, concurrent = (opened(onnx=path, threads=1, streams=streams) for streams in (1, 3))
    for backend in (serial, concurrent):
        backend.activate()
    assert serial.batched == dynamic_batch
    np.testing.assert_array_equal(concurrent.infer(frame0, frame1, t), serial.infer(frame0, frame1, t))
    np.testing.assert_allclose(concurrent.infer(frame0, frame1, t), frame0 + t[:, None, None, None] * (frame1 - frame0), atol=1e-6)
    concurrent.close()
    concurrent.close()  # safe twice
    with pytest.raises(BackendError, match="--streams must be at least 1"):
        opened(onnx=path, streams=0)
    with pytest.raises(BackendError, match="--streams applies to the ort backend, not torch"):
        opened(model="toy_blend", streams=2)


def test_backend_choice_and_its_errors(tmp_path):
    assert opened(model="toy_blend").name == "torch"
    with pytest.raises(BackendError, match="exactly one of --model, --onnx, --engine"):
        opened(model="toy_blend", onnx=tmp_path / "x.onnx")
    with pytest.raises(BackendError, match="torch backend runs registered models"):
        opened("torch", onnx=tmp_path / "x.onnx")
    with pytest.raises(BackendError, match="trt backend runs engines"):
        opened("trt", model="toy_blend")
    with pytest.raises(BackendError, match="the ort backend runs ONNX files: pass --onnx"):
        opened("ort", model="toy_blend")  # the Interpolator exports a model first (vfi.runtime.choice)
    with pytest.raises(BackendError, match="--weights goes with --model"):
        opened(onnx=tmp_path / "x.onnx", weights=tmp_path / "w.pth")
    with pytest.raises(BackendError, match="--dtype fp16 applies to the torch backend"):
        opened("ort", model="toy_blend", dtype="fp16")
    with pytest.raises(BackendError, match="--dtype fp16 runs on a GPU"):
        opened(model="toy_blend", dtype="fp16")
    with pytest.raises(BackendError, match="unknown device 'tpu' for the ort backend"):
        OrtConfig(export_toy("toy_mid", tmp_path / "m.onnx"), device="tpu")
    with pytest.raises(BackendError, match="--threads must be at least 1, got 0"):
        opened(model="toy_blend", threads=0)


def test_the_base_class_checks_the_backend_state_and_the_batch(tmp_path):
    backend = open_backend(OrtConfig(export_toy("toy_blend", tmp_path / "b.onnx")))
    frames = np.zeros((2, 3, 4, 5), np.float32), np.ones((2, 3, 4, 5), np.float32)
    with pytest.raises(BackendError, match="b on ort: not active; call activate"):
        backend.infer(*frames, np.full(2, 0.5, np.float32))
    backend.activate()
    with pytest.raises(BackendError, match="already active"):
        backend.activate()
    np.testing.assert_allclose(backend.infer(*frames, np.full(2, 0.5, np.float32)), 0.5, atol=1e-6)
    with pytest.raises(ValueError, match=r"takes t: expected an array of shape \[2\], got None"):
        backend.infer(*frames, None)
    with pytest.raises(ValueError, match="two \\[N, 3, H, W\\] batches of one shape"):
        backend.infer(frames[0], frames[1][:, :, :3], np.full(2, 0.5, np.float32))
    backend.close()
    backend.close()  # safe twice
    with pytest.raises(BackendError, match="not active"):
        backend.infer(*frames, np.full(2, 0.5, np.float32))
    backend.activate()  # again after close
    backend.close()


def test_a_failed_activation_releases_what_it_allocated(tmp_path, monkeypatch):
    from vfi.runtime.backends import ort

    backend = open_backend(OrtConfig(export_toy("toy_blend", tmp_path / "b.onnx"), threads=1, streams=2))
    def no_threads(*args, **kwargs):
        assert backend.session is not None  # the session was made before the stream pool
        raise RuntimeError("no threads left")

    monkeypatch.setattr(ort, "ThreadPoolExecutor", no_threads)
    with pytest.raises(RuntimeError, match="no threads left"):
        backend.activate()
    assert not backend.active and backend.session is None and backend.pool is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(BackendError, match="--device cuda needs a CUDA GPU"):
        opened(model="toy_blend", device="cuda").activate()


def test_ort_without_the_gpu_package_says_what_to_install(tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    backend = opened(onnx=export_toy("toy_mid", tmp_path / "m.onnx"), device="cuda")
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
        opened(engine=engine)


@pytest.mark.skipif(not TRT_MISSING, reason="checks the message when TensorRT is missing; TensorRT is installed here")
def test_trt_backend_without_tensorrt_is_one_clear_line(engine):
    backend = opened(engine=engine)
    assert backend.min_size == 64
    with pytest.raises(BackendError, match=r"the trt backend needs tensorrt, .*pip install 'vfi\[trt-cu12\]' or 'vfi\[trt-cu13\]'"):
        backend.activate()


# -- TensorRT pieces with TensorRT and CUDA stood in for ------------------------------------------


class FakeCudart:
    """The few cuda-python runtime calls the trt backend makes: (error, *values), 0 for success.
    Host allocations are real memory (the backend writes them through ctypes)."""

    class cudaMemcpyKind:
        cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost = 1, 2

    def __init__(self, driver_version=12040):
        self.driver_version, self.blocks = driver_version, []

    def cudaDriverGetVersion(self):
        return 0, self.driver_version

    def cudaMallocHost(self, nbytes):
        import ctypes

        self.blocks.append(ctypes.create_string_buffer(nbytes))
        return 0, ctypes.addressof(self.blocks[-1])

    def cudaMalloc(self, nbytes):
        return 0, 0x10000 * (len(self.blocks) + 1)

    def cudaStreamCreate(self):
        return 0, 7

    def cudaMemcpyAsync(self, *args):
        return (0,)


class FakeRegistry:
    """TensorRT's plugin registry as it behaves: a second load_library of a library returns None."""

    def __init__(self):
        self.calls = []

    def load_library(self, path):
        self.calls.append(path)
        return None if self.calls.count(path) > 1 else f"handle of {path}"


@pytest.fixture
def fake_trt(monkeypatch):
    from types import SimpleNamespace

    from vfi.plugins import tensorrt_loading

    monkeypatch.setattr(tensorrt_loading, "_LOADED_PLUGIN_LIBRARIES", {})  # a fresh process
    monkeypatch.setattr(tensorrt_loading, "tensorrt_cuda_major", lambda: 12)
    registry = FakeRegistry()
    return SimpleNamespace(get_plugin_registry=lambda: registry, registry=registry)


def plugin_file(folder, content: bytes, cuda_version: str | None = None):
    """A stand-in plugin library; with `cuda_version`, the build-info.json vfi writes beside one."""
    folder.mkdir(parents=True, exist_ok=True)
    library = folder / "libvfi_trt_plugins.so"
    library.write_bytes(content)
    if cuda_version:
        info = {"libraries": {"trt": str(library)}, "toolchain": {"cuda_version": cuda_version}}
        (folder / "build-info.json").write_text(json.dumps(info))
    return library


def test_plugin_library_is_loaded_once_per_process(fake_trt, tmp_path):
    from vfi.plugins.tensorrt_loading import Cuda, load_plugin_library

    cuda = Cuda(FakeCudart())
    first, second = plugin_file(tmp_path / "a", b"plugins a", "12.8.93"), plugin_file(tmp_path / "b", b"plugins b")
    handle = load_plugin_library(fake_trt, first, cuda)
    assert load_plugin_library(fake_trt, first, cuda) == handle == f"handle of {first.resolve()}"
    assert load_plugin_library(fake_trt, tmp_path / "a" / ".." / "a" / first.name, cuda) == handle  # the same file
    assert load_plugin_library(fake_trt, second, cuda) == f"handle of {second.resolve()}"
    assert load_plugin_library(fake_trt, second, cuda) == f"handle of {second.resolve()}"
    assert fake_trt.registry.calls == [str(first.resolve()), str(second.resolve())]


def test_a_copy_of_a_loaded_library_shares_its_handle(fake_trt, tmp_path):
    from vfi.plugins.tensorrt_loading import Cuda, load_plugin_library

    cuda = Cuda(FakeCudart())
    handle = load_plugin_library(fake_trt, plugin_file(tmp_path / "a", b"plugins"), cuda)
    assert load_plugin_library(fake_trt, plugin_file(tmp_path / "copy", b"plugins"), cuda) == handle
    assert len(fake_trt.registry.calls) == 1


def test_a_rebuilt_library_at_a_loaded_path_is_refused(fake_trt, tmp_path):
    from vfi.plugins.tensorrt_loading import Cuda, load_plugin_library

    cuda = Cuda(FakeCudart())
    library = plugin_file(tmp_path, b"first build")
    load_plugin_library(fake_trt, library, cuda)
    library.write_bytes(b"second build")
    with pytest.raises(TensorRTSetupError, match="this process already loaded another version of this plugin library"):
        load_plugin_library(fake_trt, library, cuda)
    assert len(fake_trt.registry.calls) == 1


def test_a_library_tensorrt_refuses_is_one_clear_error(fake_trt, tmp_path, monkeypatch):
    from vfi.plugins.tensorrt_loading import Cuda, load_plugin_library

    monkeypatch.setattr(fake_trt.registry, "load_library", lambda path: None)
    with pytest.raises(TensorRTSetupError, match="TensorRT could not load this plugin library"):
        load_plugin_library(fake_trt, plugin_file(tmp_path, b"plugins"), Cuda(FakeCudart()))


def test_a_library_of_another_cuda_major_is_refused_before_loading(fake_trt, tmp_path):
    from vfi.plugins.tensorrt_loading import Cuda, load_plugin_library

    library = plugin_file(tmp_path, b"plugins", cuda_version="13.0.88")  # TensorRT (fake_trt) is for CUDA 12
    with pytest.raises(TensorRTSetupError, match=r"compiled by nvcc of CUDA 13.0.88; the installed TensorRT is built for CUDA 12"):
        load_plugin_library(fake_trt, library, Cuda(FakeCudart(driver_version=13000)))
    assert fake_trt.registry.calls == []


def test_cuda_major_mismatch_names_the_versions_and_the_fix():
    from vfi.plugins.tensorrt_loading import cuda_major_mismatch

    assert cuda_major_mismatch("lib.so", "12.8.93", 12, 12040) is None  # an older driver minor is fine
    assert cuda_major_mismatch("lib.so", "12.4.1", 12, 13000) is None  # a newer driver runs older CUDA
    assert cuda_major_mismatch("lib.so", None, None, None) is None  # nothing known, nothing compared
    rebuild = "rebuild the library with the nvcc of CUDA {} (point CUDACXX at it, run `vfi plugins build`, then `vfi build` again)"
    # nvcc 13 (found first) with tensorrt-cu12 under a CUDA 13 driver: either side can move.
    assert cuda_major_mismatch("lib.so", "13.0.88", 12, 13000) == (
        "CUDA versions that do not fit together: lib.so was compiled by nvcc of CUDA 13.0.88; the installed TensorRT is "
        "built for CUDA 12 (tensorrt-cu12); this driver supports CUDA 13.0. Fix: " + rebuild.format(12)
        + ", or install TensorRT for CUDA 13 (pip install 'vfi[trt-cu13]')"
    )
    # The same under a CUDA 12 driver: the static CUDA 13 runtime would fail ("insufficient driver").
    assert cuda_major_mismatch("lib.so", "13.0.88", 12, 12040).endswith("Fix: " + rebuild.format(12))
    # Everything CUDA 13 under a CUDA 12 driver.
    message = cuda_major_mismatch("lib.so", "13.0.88", 13, 12040)
    assert "this driver supports CUDA 12.4" in message
    assert message.endswith(
        f"Fix: {rebuild.format(12)} and install TensorRT for CUDA 12 (pip install 'vfi[trt-cu12]'), or update the driver to one for CUDA 13"
    )
    assert cuda_major_mismatch("lib.so", "12.8.1", 13, 12080).endswith("Fix: install TensorRT for CUDA 12 (pip install 'vfi[trt-cu12]')")
    assert cuda_major_mismatch("lib.so", "13.0.1", None, 12080).endswith(f"Fix: {rebuild.format(12)}, or update the driver to one for CUDA 13")
    assert cuda_major_mismatch("lib.so", "11.8.89", 12, 12040).endswith("or install TensorRT for CUDA 11")  # no vfi extra for 11


def test_tensorrt_cuda_major_comes_from_the_wheel_names(monkeypatch):
    from vfi.plugins import tensorrt_loading as trt

    def installed(**providers):
        monkeypatch.setattr(trt.importlib.metadata, "packages_distributions", lambda: providers)

    installed(tensorrt=["tensorrt_cu13"], tensorrt_bindings=["tensorrt_cu13_bindings"], tensorrt_libs=["tensorrt-cu13-libs"])
    assert trt.tensorrt_cuda_major() == 13
    installed(tensorrt=["tensorrt-cu12"], numpy=["numpy"])
    assert trt.tensorrt_cuda_major() == 12
    installed(tensorrt=["tensorrt"])  # a wheel from a tar file: no CUDA in its name
    assert trt.tensorrt_cuda_major() is None
    installed(tensorrt=["tensorrt_cu12"], tensorrt_libs=["tensorrt_cu13_libs"])  # mixed: cannot tell
    assert trt.tensorrt_cuda_major() is None


class FakeContext:
    def __init__(self, refused: str):
        self.refused = refused

    def set_input_shape(self, name, shape):
        return True

    def set_tensor_address(self, name, address):
        return name != self.refused

    def get_tensor_shape(self, name):
        return (1, 3, 4, 5)

    def execute_async_v3(self, stream):
        return True


@pytest.mark.parametrize("refused", ["frame1", "output"])
def test_a_refused_tensor_address_names_the_tensor(refused):
    from types import SimpleNamespace

    from vfi.plugins.tensorrt_loading import Cuda
    from vfi.runtime.backends.trt import _Slot

    engine = SimpleNamespace(create_execution_context=lambda: FakeContext(refused))
    names = ["frame0", "frame1", "output"]
    slot = _Slot(engine, Cuda(FakeCudart()), names, {n: np.dtype(np.float32) for n in names})
    frames = {name: np.zeros((1, 3, 4, 5), np.float32) for name in ("frame0", "frame1")}
    with pytest.raises(BackendError, match=f"TensorRT refused the device address of tensor {refused} "):
        slot.submit(0, frames, "output")
