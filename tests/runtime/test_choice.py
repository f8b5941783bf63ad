"""The path a run takes when the caller leaves it open (vfi.runtime.choice) and the export cache
behind the default CPU path (vfi.export.cache)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from toy_models import run_vfi
from vfi.export import cache
from vfi.runtime import choice
from vfi.runtime.backends import OrtConfig, TorchConfig, TrtConfig
from vfi.runtime.interpolator import DEFAULT_BATCH_SIZE, Interpolator

pytestmark = pytest.mark.usefixtures("toy_registered")
USABLE_CORES = choice.usable_cores  # before the fixture below replaces it


@pytest.fixture(autouse=True)
def machine(monkeypatch, tmp_path):
    """A 2-core machine without a GPU and with an empty cache, unless a test says otherwise."""
    monkeypatch.setenv("VFI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(choice, "cuda_name", lambda: None)
    monkeypatch.setattr(choice, "usable_cores", lambda: 2)


def choose(**given):
    options = dict(model="toy_blend", onnx=None, engine=None, backend=None, device=None, dtype="fp32", provider=None, plugins=None,
                   threads=None, streams=None, batch_size=None, weights=None, seed=0, default_batch_size=DEFAULT_BATCH_SIZE)
    return choice.choose_path(**{**options, **given})


def test_a_model_on_a_cpu_runs_from_its_cached_export_one_stream_per_core(tmp_path):
    path = choose()
    assert path.config == OrtConfig(path.config.onnx, device="cpu", threads=1, streams=2)
    assert path.config.onnx.parent == tmp_path / "cache" / "onnx" and path.config.onnx.is_file()
    assert onnx.load(path.config.onnx).graph.input[0].name == "frame0"
    assert path.batch_size == DEFAULT_BATCH_SIZE
    assert "no CUDA GPU" in path.reason and "exported now" in path.reason and "2 stream(s) × 1 thread(s)" in path.reason
    again = choose()
    assert again.config.onnx == path.config.onnx and "export cached at" in again.reason


@pytest.mark.parametrize("cores, streams, threads", [(1, 1, 1), (2, 2, 1), (3, 3, 1), (8, 4, 2), (16, 4, 4)])
def test_streams_and_threads_follow_the_usable_cores(monkeypatch, cores, streams, threads):
    monkeypatch.setattr(choice, "usable_cores", lambda: cores)
    path = choose()
    assert (path.config.streams, path.config.threads) == (streams, threads)
    assert path.batch_size == max(DEFAULT_BATCH_SIZE, streams)


def test_usable_cores_are_the_affinity_not_the_machine(monkeypatch):
    monkeypatch.setattr(choice.os, "sched_getaffinity", lambda pid: {3, 5})  # as under `taskset -c 3,5`
    assert USABLE_CORES() == 2


def test_what_the_caller_gives_is_kept():
    assert (choose(threads=2).config.streams, choose(threads=2).config.threads) == (1, 2)
    assert (choose(streams=3).config.streams, choose(streams=3).config.threads) == (3, 1)
    assert choose(streams=2, batch_size=1).batch_size == 1
    torch_path = choose(backend="torch")
    assert torch_path.config == TorchConfig("toy_blend", device="cpu")
    assert torch_path.reason == "torch on cpu (as asked)"
    assert choose(dtype="fp16", device="cuda").config.dtype == "fp16"


def test_a_cuda_gpu_means_pytorch_on_it(monkeypatch):
    monkeypatch.setattr(choice, "cuda_name", lambda: "NVIDIA H200")
    path = choose()
    assert path.config == TorchConfig("toy_blend", device="cuda")
    assert "CUDA GPU NVIDIA H200" in path.reason
    assert isinstance(choose(device="cpu").config, OrtConfig)  # --device cpu keeps the CPU path


def test_files_pick_their_backend(tmp_path):
    exported = choose().config.onnx
    assert choose(model=None, onnx=exported).config == OrtConfig(exported, device="cpu", threads=1, streams=2)
    assert choose(model=None, onnx=exported, provider="cuda").config.device == "cuda"
    (tmp_path / "x.engine").write_bytes(b"")
    assert choose(model=None, engine=tmp_path / "x.engine").config == TrtConfig(tmp_path / "x.engine")


def test_the_cache_key_covers_what_the_graph_depends_on(monkeypatch):
    base = cache.cached_path(cache.export_key("classic", "none (random weights, seed 0)"))
    assert cache.cached_path(cache.export_key("classic", "none (random weights, seed 1)")) != base
    assert cache.cached_path(cache.export_key("classic", "ab" * 32)) != base
    assert cache.cached_path(cache.export_key("classic", "none (random weights, seed 0)", opset=18)) != base
    monkeypatch.setattr(cache, "sources_digest", lambda: "edited")
    assert cache.cached_path(cache.export_key("classic", "none (random weights, seed 0)")) != base
    monkeypatch.setattr(cache.vfi, "__version__", "9.9")
    assert cache.export_key("classic", "x")["vfi"] == "9.9"


def test_a_model_the_runtime_cannot_run_fails_before_its_export(tmp_path):
    from vfi.models import MODELS
    from vfi.runtime.backends import BackendError

    if "dsfn_net" not in MODELS:
        pytest.skip("dsfn_net is not registered in this version")
    with pytest.raises(BackendError, match="model dsfn_net: takes"):
        choose(model="dsfn_net")
    assert not (tmp_path / "cache" / "onnx").exists()


def test_missing_weights_are_named_before_any_export(tmp_path):
    from vfi.runtime.backends import BackendError

    with pytest.raises(BackendError, match="w.pth: no such weights file"):
        choose(weights=tmp_path / "w.pth")


def test_two_runs_exporting_at_once_both_get_a_complete_file(tmp_path):
    script = (
        "import sys, toy_models; toy_models.register()\n"
        "from vfi.export.cache import cached_export\n"
        "print(cached_export('toy_mid')[0])\n"
    )
    helpers = str(Path(__file__).parents[1])  # toy_models
    environment = {"VFI_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": f"{helpers}:{Path(__file__).parents[2]}",
                   "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=environment) for _ in range(2)]
    paths = {run.communicate(timeout=300)[0].decode().strip() for run in runs}
    assert all(run.returncode == 0 for run in runs) and len(paths) == 1
    folder = tmp_path / "cache" / "onnx"
    assert [p.name for p in folder.iterdir()] == [Path(paths.pop()).name]  # no temporary file left behind
    onnx.checker.check_model(onnx.load(next(folder.iterdir())))


def test_the_interpolator_default_is_the_chosen_path():
    interpolator = Interpolator(model="toy_blend")
    assert interpolator.backend.name == "ort" and interpolator.batch_size == DEFAULT_BATCH_SIZE
    assert interpolator.path.startswith("ort on cpu (no CUDA GPU")
    f0, f1 = np.zeros((3, 8, 8), np.float32), np.ones((3, 8, 8), np.float32)
    (middle,) = interpolator.interpolate_float(f0, f1, 0.25)
    np.testing.assert_allclose(middle, 0.25, atol=1e-6)


def test_the_summary_says_which_path_and_why(tmp_path):
    from vfi.frames.synthetic import Scene, write_mp4

    clip = write_mp4(Scene(64, 48).frames(3), tmp_path / "c.mp4")
    result = run_vfi("interpolate", str(clip), str(tmp_path / "out.mp4"), "--model", "toy_blend", "--json",
                     env={"VFI_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout)
    assert summary["model"] == "toy_blend on ort"
    assert summary["path"].startswith("ort on cpu (") and "stream(s)" in summary["path"]
    assert "exporting toy_blend to ONNX for ONNX Runtime, once" in result.stderr.decode()
