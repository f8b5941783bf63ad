"""`vfi build`: the plain-Python half (graph preparation for plugins or without them, profile,
cache key and up-to-date check, the one-line error without TensorRT) on every machine; the build
itself, one engine per model and precision checked with `vfi parity`, in the trt tier."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from test_onnx_export import ThreeOps
from vfi.export.engine import (
    EngineBuildError,
    cache_key,
    default_timing_cache,
    derive_profile,
    input_shapes,
    is_up_to_date,
    parse_size,
)
from vfi.export.engine_sidecar import write_sidecar
from vfi.export.graph import custom_nodes, for_plugins, node_attrs, without_custom_ops
from vfi.export.onnx import export_module, ort_session, save_model
from vfi.export.precision import to_fp16
from vfi.models import MODELS
from vfi.plugins.spec import NAMESPACE

TRT_MISSING = importlib.util.find_spec("tensorrt") is None
SIZE = (21, 30)


def run_vfi(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vfi", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def three_ops():
    frames = (torch.rand(1, 3, *SIZE), torch.rand(1, 3, *SIZE))
    height, width = torch.export.Dim("height", min=2, max=4096), torch.export.Dim("width", min=2, max=4096)
    return export_module(ThreeOps().eval(), frames, ["frame0", "frame1"], ["output"], {"frame0": {2: height, 3: width}, "frame1": {2: height, 3: width}})


def test_for_plugins_strips_the_functions_and_keeps_the_plugin_nodes(three_ops):
    prepared = for_plugins(three_ops)
    assert len(three_ops.functions) == 3 and len(prepared.functions) == 0
    before, after = list(custom_nodes(three_ops.graph)), list(custom_nodes(prepared.graph))
    assert [n.SerializeToString() for n in before] == [n.SerializeToString() for n in after]
    assert all((node_attrs(n)["plugin_version"], node_attrs(n)["plugin_namespace"]) == ("1", "vfi") for n in after)
    assert any(o.domain == NAMESPACE for o in prepared.opset_import)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_without_custom_ops_inlines_the_bodies_and_computes_the_same(three_ops, precision):
    model = three_ops if precision == "fp32" else to_fp16(three_ops)
    prepared = without_custom_ops(model)
    onnx.checker.check_model(prepared, full_check=True)
    assert list(custom_nodes(prepared.graph)) == [] and len(prepared.functions) == 0
    assert all(o.domain != NAMESPACE for o in prepared.opset_import)
    assert not any(a.name in ("plugin_version", "plugin_namespace") for n in prepared.graph.node for a in n.attribute)
    feeds = {"frame0": np.random.rand(1, 3, 17, 26).astype(np.float32), "frame1": np.random.rand(1, 3, 17, 26).astype(np.float32)}
    (expected,) = ort_session(model).run(None, feeds)
    (actual,) = ort_session(prepared).run(None, feeds)
    np.testing.assert_allclose(actual, expected, atol=1e-6 if precision == "fp32" else 2e-3, rtol=0)


def test_profile_comes_from_the_card_or_the_options():
    card = MODELS["sepconv_net"]
    meta = {"vfi.model": "sepconv_net", "vfi.min_size": str(card.min_size)}
    assert derive_profile(meta) == {"min": list(card.profile[0]), "opt": list(card.profile[1]), "max": list(card.profile[2])}
    assert derive_profile(meta, opt_size=(480, 640))["opt"] == [480, 640]
    assert derive_profile({}, (64, 64), (128, 128), (256, 512)) == {"min": [64, 64], "opt": [128, 128], "max": [256, 512]}
    with pytest.raises(EngineBuildError, match="give all of --min, --opt and --max"):
        derive_profile({"vfi.model": "unregistered"}, opt_size=(64, 64))
    with pytest.raises(EngineBuildError, match="min <= opt <= max, got 64, 2000, 1088"):
        derive_profile(meta, opt_size=(2000, 64))
    with pytest.raises(EngineBuildError, match="below the model's minimum size 17"):
        derive_profile({"vfi.min_size": "17"}, (16, 64), (64, 64), (64, 64))
    assert parse_size("720x1280") == (720, 1280)
    for text in ("720", "axb", "0x5"):
        with pytest.raises(EngineBuildError, match="size"):
            parse_size(text)


def test_input_shapes_span_height_and_width_only(three_ops):
    profile = {"min": [32, 48], "opt": [64, 96], "max": [128, 160]}
    shapes = input_shapes(three_ops, profile)
    assert shapes == {name: ((1, 3, 32, 48), (1, 3, 64, 96), (1, 3, 128, 160)) for name in ("frame0", "frame1")}
    batch = onnx.ModelProto()
    batch.CopyFrom(three_ops)
    batch.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    with pytest.raises(EngineBuildError, match="input frame0 has a dynamic dimension 0 \\(batch\\)"):
        input_shapes(batch, profile)


def test_cache_key_and_up_to_date_engine(three_ops, tmp_path):
    onnx_path = save_model(three_ops, tmp_path / "model.onnx")
    environment = {"tensorrt_version": "10.9.0", "gpu_name": "Test GPU", "compute_capability": "8.9", "plugin_sha256": None}
    profile = {"min": [64, 64], "opt": [128, 128], "max": [256, 256]}
    key = cache_key(onnx_path, {"vfi.model": "three_ops", "vfi.precision": "fp16"}, profile, environment)
    assert key["precision"] == "fp16" and key["profile"] == profile and key["gpu_name"] == "Test GPU"
    assert len(key["onnx_sha256"]) == 64 and key["vfi_version"]
    engine = tmp_path / "model.engine"
    assert not is_up_to_date(engine, key)
    engine.write_bytes(b"serialized engine")
    assert not is_up_to_date(engine, key)  # no sidecar
    write_sidecar(engine, key)
    assert is_up_to_date(engine, key)
    assert not is_up_to_date(engine, {**key, "profile": {**profile, "max": [512, 512]}})
    assert not is_up_to_date(engine, {**key, "tensorrt_version": "11.0.0"})
    engine.write_bytes(b"another engine")  # the file no longer matches its sidecar
    assert not is_up_to_date(engine, key)


def test_build_prepares_the_graph_writes_the_sidecar_and_skips_up_to_date_engines(three_ops, tmp_path, monkeypatch, capsys):
    """The orchestration of `vfi build` with TensorRT itself stood in for (the trt tier builds for real)."""
    from types import SimpleNamespace

    from vfi.export import engine as engine_module
    from vfi.export.engine_sidecar import read_sidecar
    from vfi.models.weights import sha256_of

    built = []
    monkeypatch.setattr(engine_module, "import_tensorrt", lambda: SimpleNamespace(__version__="10.9.0"))
    monkeypatch.setattr(engine_module, "machine_environment", lambda trt, plugins: {
        "tensorrt_version": trt.__version__, "gpu_name": "Test GPU", "compute_capability": "8.9",
        "plugin_sha256": sha256_of(plugins) if plugins else None,
    })
    monkeypatch.setattr(engine_module, "plugin_library", lambda: (None, "no CUDA compiler"))
    monkeypatch.setattr(engine_module, "build_engine", lambda trt, model, shapes, plugins, cache: built.append((model, shapes, plugins, cache)) or b"plan")
    onnx_path, engine = save_model(three_ops, tmp_path / "model.onnx"), tmp_path / "model.engine"
    sizes = dict(min_size=(32, 32), opt_size=(64, 64), max_size=(128, 128), timing_cache=tmp_path / "timing.cache")

    key = engine_module.build(onnx_path, engine, **sizes)
    assert "the vfi plugin library is not available (no CUDA compiler)" in capsys.readouterr().err
    model, shapes, plugins, cache = built[-1]
    assert plugins is None and list(custom_nodes(model.graph)) == [] and cache == tmp_path / "timing.cache"
    assert shapes["frame0"] == ((1, 3, 32, 32), (1, 3, 64, 64), (1, 3, 128, 128))
    assert engine.read_bytes() == b"plan" and read_sidecar(engine) == {**key, "engine_sha256": sha256_of(engine)}

    engine_module.build(onnx_path, engine, **sizes)
    assert len(built) == 1 and "is up to date" in capsys.readouterr().out

    library = tmp_path / "libvfi_trt_plugins.so"
    library.write_bytes(b"plugins")
    key = engine_module.build(onnx_path, engine, plugins=library, **sizes)
    model, _, plugins, _ = built[-1]
    assert len(built) == 2 and plugins == library and key["plugin_sha256"] == sha256_of(library)
    assert len(list(custom_nodes(model.graph))) == 3 and len(model.functions) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_timing_cache_is_one_file_per_tensorrt_version_and_gpu_model(tmp_path, monkeypatch):
    monkeypatch.setenv("VFI_CACHE_DIR", str(tmp_path))
    h200 = {"tensorrt_version": "10.13.0.35", "gpu_name": "NVIDIA H200", "compute_capability": "9.0", "plugin_sha256": None}
    assert default_timing_cache(h200) == tmp_path / "tensorrt" / "timing-trt10.13.0.35-nvidia-h200-sm9.0.cache"
    odd = {**h200, "gpu_name": " NVIDIA GeForce RTX 4090 / (Laptop)\\x ", "compute_capability": "8.9"}
    assert default_timing_cache(odd).name == "timing-trt10.13.0.35-nvidia-geforce-rtx-4090-laptop-x-sm8.9.cache"
    others = [{**h200, "tensorrt_version": "11.0.0"}, {**h200, "gpu_name": "NVIDIA L4"}, {**h200, "compute_capability": "8.9"}]
    assert len({default_timing_cache(e) for e in [h200, *others]}) == 4
    assert default_timing_cache({**h200, "plugin_sha256": "ab" * 32}) == default_timing_cache(h200)


def test_builds_in_one_process_load_the_plugin_library_once(three_ops, tmp_path, monkeypatch):
    """TensorRT's load_library returns None for a library it loaded already: build_engine goes
    through the runtime's once-per-process helper (polygraphy, TensorRT and CUDA stood in for)."""
    from types import ModuleType, SimpleNamespace

    from vfi.export.engine import build_engine
    from vfi.runtime.backends import trt as trt_backend

    class Loader:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self):
            return b"plan"

    polygraphy_trt = ModuleType("polygraphy.backend.trt")
    polygraphy_trt.CreateConfig = polygraphy_trt.EngineBytesFromNetwork = polygraphy_trt.NetworkFromOnnxBytes = Loader
    polygraphy_trt.Profile = lambda: SimpleNamespace(add=lambda *args, **kwargs: None)
    exception = ModuleType("polygraphy.exception")
    exception.PolygraphyException = RuntimeError
    for name, module in [("polygraphy", ModuleType("polygraphy")), ("polygraphy.backend", ModuleType("polygraphy.backend")),
                         ("polygraphy.backend.trt", polygraphy_trt), ("polygraphy.exception", exception)]:
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(trt_backend, "_LOADED_PLUGIN_LIBRARIES", {})
    monkeypatch.setattr(trt_backend, "_import_cudart", lambda: SimpleNamespace(cudaDriverGetVersion=lambda: (0, 12040)))
    monkeypatch.setattr(trt_backend, "tensorrt_cuda_major", lambda: 12)
    loaded = []
    registry = SimpleNamespace(load_library=lambda path: None if path in loaded else loaded.append(path) or f"handle of {path}")
    trt = SimpleNamespace(get_plugin_registry=lambda: registry)
    library = tmp_path / "libvfi_trt_plugins.so"
    library.write_bytes(b"plugins")
    for _ in range(2):
        assert build_engine(trt, three_ops, {}, library, tmp_path / "timing.cache") == b"plan"
    assert loaded == [str(library.resolve())]


@pytest.mark.skipif(not TRT_MISSING, reason="checks the message when TensorRT is missing; TensorRT is installed here")
def test_build_without_tensorrt_is_one_clear_line(tmp_path):
    result = run_vfi("build", str(tmp_path / "model.onnx"), "-o", str(tmp_path / "model.engine"))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("vfi build: error: TensorRT is not available here (No module named 'tensorrt')")
    assert "pip install 'vfi[trt-cu12]' or 'vfi[trt-cu13]'" in line
    assert list(tmp_path.iterdir()) == []


# -- trt tier: real engines -------------------------------------------------------------------------

TWO_FRAME_MODELS = [name for name, card in MODELS.items() if not hasattr(card.build, "example_inputs")]


@pytest.fixture(scope="module")
def calib(data_dir, tmp_path_factory):
    from vfi.calib.collect import collect

    folder = tmp_path_factory.mktemp("calib") / "pairs"
    collect([data_dir / "videos" / "car-turn.mp4"], folder, samples=8)
    return folder


ENGINE_CASES = [
    pytest.param(name, precision, id=f"{name}-{precision}")
    for name in TWO_FRAME_MODELS
    for precision in ("fp32", "fp16", "int8")
    if not (name == "classic" and precision == "int8")  # nothing to quantize (vfi.export.quantize)
]


@pytest.mark.gpu
@pytest.mark.trt
@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("name,precision", ENGINE_CASES)
def test_engine_matches_pytorch_through_vfi_parity(name, precision, calib, data_dir, tmp_path):
    model, engine = tmp_path / f"{name}.{precision}.onnx", tmp_path / f"{name}.{precision}.engine"
    export = ["export", name, "-o", str(model), "--precision", precision] + (["--calib", str(calib)] if precision == "int8" else [])
    assert run_vfi(*export).returncode == 0
    profile = ["--min", "256x256", "--opt", "480x640", "--max", "512x704"]  # spans the Middlebury frames
    built = run_vfi("build", str(model), "-o", str(engine), "--timing-cache", str(tmp_path / "timing.cache"), *profile, timeout=3600)
    assert built.returncode == 0, built.stderr
    assert Path(f"{engine}.json").is_file()
    again = run_vfi("build", str(model), "-o", str(engine), "--timing-cache", str(tmp_path / "timing.cache"), *profile)
    assert "is up to date" in again.stdout
    parity = run_vfi("parity", name, str(engine), "--data", str(data_dir / "middlebury"), "--json", str(tmp_path / "parity.json"))
    print(parity.stdout)
    assert parity.returncode == 0, parity.stdout + parity.stderr
