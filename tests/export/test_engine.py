"""`vfi build`: the plain-Python half (graph preparation for plugins or without them, profile,
cache key and up-to-date check, the one-line error without TensorRT, the `--print-trtexec`
command against what the builder sets) on every machine; the build itself, one engine per model
and precision checked with `vfi parity`, in the trt tier."""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

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
    trtexec_onnx_path,
)
from vfi.export.engine_sidecar import write_sidecar
from vfi.models.classic_net import QUALITY_MODELS
from vfi.export.graph import for_plugins, without_custom_ops
from vfi.plugins.onnx_model import custom_nodes, node_attrs
from vfi.export.onnx import export_module, save_model
from vfi.plugins.onnx_model import ort_session
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
    assert len(key["onnx_sha256"]) == 64 and key["vfi_version"] and key["quantizer"] is None
    int8 = {"vfi.precision": "int8", "vfi.calibration": json.dumps({"quantizer": "modelopt"})}
    assert cache_key(onnx_path, int8, profile, environment)["quantizer"] == "modelopt"  # vfi parity's INT8 threshold
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
    from vfi.export import engine as engine_module
    from vfi.export.engine_sidecar import read_sidecar
    from vfi.fileio import sha256_of

    built = []
    monkeypatch.setattr(engine_module, "import_tensorrt", lambda: SimpleNamespace(__version__="10.9.0"))
    monkeypatch.setattr(engine_module, "machine_environment", lambda trt, plugins: {
        "tensorrt_version": trt.__version__, "gpu_name": "Test GPU", "compute_capability": "8.9",
        "plugin_sha256": sha256_of(plugins) if plugins else None,
    })
    monkeypatch.setattr(engine_module, "plugin_library", lambda: (None, "no CUDA compiler"))
    monkeypatch.setattr(engine_module, "build_engine", lambda trt, settings: built.append(settings) or b"plan")
    onnx_path, engine = save_model(three_ops, tmp_path / "model.onnx"), tmp_path / "model.engine"
    sizes = dict(min_size=(32, 32), opt_size=(64, 64), max_size=(128, 128), timing_cache=tmp_path / "timing.cache")

    key = engine_module.build(onnx_path, engine, **sizes)
    assert "the vfi plugin library is not available (no CUDA compiler)" in capsys.readouterr().err
    settings = built[-1]
    assert settings.plugins is None and list(custom_nodes(settings.network.graph)) == []
    assert settings.timing_cache == tmp_path / "timing.cache" and settings.engine == engine
    assert settings.shapes["frame0"] == ((1, 3, 32, 32), (1, 3, 64, 64), (1, 3, 128, 128))
    assert engine.read_bytes() == b"plan" and read_sidecar(engine) == {**key, "engine_sha256": sha256_of(engine)}

    engine_module.build(onnx_path, engine, **sizes)
    assert len(built) == 1 and "is up to date" in capsys.readouterr().out

    library = tmp_path / "libvfi_trt_plugins.so"
    library.write_bytes(b"plugins")
    key = engine_module.build(onnx_path, engine, plugins=library, **sizes)
    settings = built[-1]
    assert len(built) == 2 and settings.plugins == library and key["plugin_sha256"] == sha256_of(library)
    assert len(list(custom_nodes(settings.network.graph))) == 3 and len(settings.network.functions) == 0
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


@pytest.fixture
def tensorrt_stand_in(monkeypatch):
    """Polygraphy's TensorRT loaders, TensorRT's plugin registry and CUDA stood in for, recording
    what the builder hands them: `calls` (profile shapes per input, CreateConfig's and
    NetworkFromOnnxBytes's arguments, the timing cache saved) and `loaded` (libraries loaded)."""
    from vfi.plugins import tensorrt_loading as trt_backend

    calls = {"profile": {}}

    class Profile:
        def add(self, name, min, opt, max):
            calls["profile"][name] = (tuple(min), tuple(opt), tuple(max))

    class EngineBytesFromNetwork:
        def __init__(self, network, config, save_timing_cache=None):
            calls["save_timing_cache"] = save_timing_cache

        def __call__(self):
            return b"plan"

    polygraphy_trt = ModuleType("polygraphy.backend.trt")
    polygraphy_trt.Profile, polygraphy_trt.EngineBytesFromNetwork = Profile, EngineBytesFromNetwork
    polygraphy_trt.CreateConfig = lambda **options: calls.setdefault("config", options)
    polygraphy_trt.NetworkFromOnnxBytes = lambda model_bytes, **options: calls.setdefault("network", (model_bytes, options))
    exception = ModuleType("polygraphy.exception")
    exception.PolygraphyException = RuntimeError
    for name, module in [("polygraphy", ModuleType("polygraphy")), ("polygraphy.backend", ModuleType("polygraphy.backend")),
                         ("polygraphy.backend.trt", polygraphy_trt), ("polygraphy.exception", exception)]:
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(trt_backend, "_LOADED_PLUGIN_LIBRARIES", {})
    monkeypatch.setattr(trt_backend, "import_cudart", lambda: SimpleNamespace(cudaDriverGetVersion=lambda: (0, 12040)))
    monkeypatch.setattr(trt_backend, "tensorrt_cuda_major", lambda: 12)
    loaded = []
    # TensorRT's load_library returns None for a library it loaded already.
    registry = SimpleNamespace(load_library=lambda path: None if path in loaded else loaded.append(path) or f"handle of {path}")
    trt = SimpleNamespace(__version__="10.9.0", get_plugin_registry=lambda: registry)
    return SimpleNamespace(trt=trt, calls=calls, loaded=loaded)


def test_builds_in_one_process_load_the_plugin_library_once(three_ops, tmp_path, tensorrt_stand_in):
    """TensorRT's load_library returns None for a library it loaded already: build_engine goes
    through the runtime's once-per-process helper."""
    from vfi.export.engine import build_engine, build_settings

    library = tmp_path / "libvfi_trt_plugins.so"
    library.write_bytes(b"plugins")
    profile = {"min": [32, 32], "opt": [64, 64], "max": [128, 128]}
    settings = build_settings(three_ops, tmp_path / "model.engine", profile, library, tmp_path / "timing.cache")
    for _ in range(2):
        assert build_engine(tensorrt_stand_in.trt, settings) == b"plan"
    assert tensorrt_stand_in.loaded == [str(library.resolve())]


def trtexec_flags(script: str) -> dict[str, str | None]:
    """The options of the trtexec command that ends `script` (after its comment lines), each
    given once: --name=value as {name: value}, --name as {name: None}."""
    *comments, command = script.splitlines()
    assert all(line.startswith("# ") for line in comments)
    program, *arguments = shlex.split(command)
    assert program == "trtexec" and all(a.startswith("--") for a in arguments)
    flags = dict((a[2:].split("=", 1) + [None])[:2] for a in arguments)
    assert len(flags) == len(arguments), arguments
    return flags


def shape_spec(spec: str) -> dict[str, tuple[int, ...]]:
    """trtexec's "name:1x3x64x64,other:…" as {name: (1, 3, 64, 64), …}."""
    return {name: tuple(int(d) for d in dims.split("x")) for name, dims in (item.rsplit(":", 1) for item in spec.split(","))}


def test_print_trtexec_spells_what_the_builder_sets(three_ops, tmp_path, monkeypatch, tensorrt_stand_in):
    """One BuildSettings drives both: the real build_engine (Polygraphy and TensorRT stood in for)
    and the printed trtexec command, which must carry exactly the values the builder set."""
    from vfi.export import engine as engine_module

    monkeypatch.setattr(engine_module, "import_tensorrt", lambda: tensorrt_stand_in.trt)
    monkeypatch.setattr(engine_module, "machine_environment", lambda trt, plugins: {
        "tensorrt_version": trt.__version__, "gpu_name": "Test GPU", "compute_capability": "8.9", "plugin_sha256": "ab" * 32,
    })
    onnx_path, engine = save_model(three_ops, tmp_path / "model.onnx"), tmp_path / "model.engine"
    library = tmp_path / "libvfi_trt_plugins.so"
    library.write_bytes(b"plugins")
    options = dict(min_size=(32, 48), opt_size=(64, 96), max_size=(128, 160), plugins=library, timing_cache=tmp_path / "timing.cache")

    engine_module.build(onnx_path, engine, **options)
    flags = trtexec_flags(engine_module.trtexec_script(onnx_path, engine, **options))

    calls = tensorrt_stand_in.calls
    parsed_bytes, network_options = calls["network"]
    assert set(flags) == {"onnx", "saveEngine", "minShapes", "optShapes", "maxShapes", "stronglyTyped", "noTF32",
                          "timingCacheFile", "dynamicPlugins", "skipInference"}
    assert network_options == {"strongly_typed": True} and calls["config"]["tf32"] is False
    assert flags["saveEngine"] == str(engine) and engine.read_bytes() == b"plan"
    for index, option in enumerate(("minShapes", "optShapes", "maxShapes")):
        assert shape_spec(flags[option]) == {name: shapes[index] for name, shapes in calls["profile"].items()}
    assert shape_spec(flags["optShapes"])["frame1"] == (1, 3, 64, 96)
    assert flags["timingCacheFile"] == calls["save_timing_cache"] == str(tmp_path / "timing.cache")
    assert tensorrt_stand_in.loaded == [str(Path(flags["dynamicPlugins"]).resolve())]
    # The file trtexec reads is the graph the builder parsed: vfi:: nodes for the plugins, no local functions.
    network_file = Path(flags["onnx"])
    assert network_file == trtexec_onnx_path(engine) == tmp_path / "model.engine.trtexec.onnx"
    assert network_file.read_bytes() == parsed_bytes
    network = onnx.load(network_file)
    onnx.checker.check_model(network)
    assert len(network.functions) == 0 and len(list(custom_nodes(network.graph))) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_print_trtexec_without_plugins_or_tensorrt_says_what_it_left_out(three_ops, tmp_path, monkeypatch, capsys):
    from vfi.export import engine as engine_module

    def no_tensorrt():
        raise EngineBuildError("TensorRT is not available here (no module); install it with the extra")

    monkeypatch.setattr(engine_module, "import_tensorrt", no_tensorrt)
    monkeypatch.setattr(engine_module, "plugin_library", lambda: (None, "no CUDA compiler"))
    onnx_path, engine = save_model(three_ops, tmp_path / "model.onnx"), tmp_path / "model.engine"
    script = engine_module.trtexec_script(onnx_path, engine, min_size=(32, 32), opt_size=(64, 64), max_size=(128, 128))
    assert "the vfi plugin library is not available (no CUDA compiler)" in capsys.readouterr().err
    flags = trtexec_flags(script)
    assert "dynamicPlugins" not in flags and "timingCacheFile" not in flags
    assert "every vfi:: node replaced by its standard-op body (no plugin library)" in script
    assert "cannot be read here (TensorRT is not available here (no module)); pass --timing-cache FILE" in script
    network = onnx.load(flags["onnx"])
    onnx.checker.check_model(network, full_check=True)
    assert list(custom_nodes(network.graph)) == [] and len(network.functions) == 0
    assert not engine.exists()


def test_trtexec_refuses_an_input_name_its_shape_lists_cannot_carry(three_ops, tmp_path):
    from vfi.export.engine import BuildSettings, trtexec_command

    settings = BuildSettings(three_ops, tmp_path / "model.engine", {"frame0,1": ((1,), (1,), (1,))}, None, None)
    with pytest.raises(EngineBuildError, match="input 'frame0,1' has a comma in its name"):
        trtexec_command(settings, tmp_path / "model.engine.trtexec.onnx")


def test_print_trtexec_from_the_command_line_builds_nothing(three_ops, tmp_path):
    onnx_path, engine = save_model(three_ops, tmp_path / "model.onnx"), tmp_path / "out" / "model.engine"
    profile = ["--min", "32x32", "--opt", "64x64", "--max", "128x128"]
    result = run_vfi("build", str(onnx_path), "-o", str(engine), *profile, "--no-plugins",
                     "--timing-cache", str(tmp_path / "timing.cache"), "--print-trtexec")
    assert result.returncode == 0, result.stderr
    flags = trtexec_flags(result.stdout.strip())
    assert shape_spec(flags["maxShapes"]) == {"frame0": (1, 3, 128, 128), "frame1": (1, 3, 128, 128)}
    assert flags["timingCacheFile"] == str(tmp_path / "timing.cache") and "dynamicPlugins" not in flags
    assert sorted(p.name for p in engine.parent.iterdir()) == ["model.engine.trtexec.onnx"]
    missing = run_vfi("build", str(onnx_path), "-o", str(engine), *profile, "--plugins", str(tmp_path / "nothing.so"), "--print-trtexec")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"vfi build: error: {tmp_path / 'nothing.so'}: no such TensorRT plugin library"


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
    if not (name in QUALITY_MODELS.values() and precision == "int8")  # classic: nothing to quantize (vfi.export.quantize)
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
