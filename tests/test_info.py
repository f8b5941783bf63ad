"""`vfi info`'s TensorRT plugin library report: its creators as TensorRT registers them when it
loads the library (TensorRT and CUDA stood in for here), else as the op specs declare them, with
the reason."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pytest

from vfi import info
from vfi.plugins import NATIVE_OPS, OPS
from vfi.plugins.native import Toolchain

NO_TOOLCHAIN = Toolchain(nvcc=None, cuda_version=None, cuda_architectures="", trt_include_dir=None,
                         trt_library_dir=None, trt_version=None)
DECLARED = [{"name": op.spec.plugin_name, "version": op.spec.plugin_version, "namespace": op.spec.plugin_namespace} for op in NATIVE_OPS]


class Registry:
    """TensorRT's plugin registry holding one creator of TensorRT's own, which gains `registers`
    when it loads a library; `load_library` returns None (TensorRT's failure) when there are none."""

    def __init__(self, registers: list[tuple[str, str, str]]):
        self.registers = registers
        self.creators = [SimpleNamespace(name="EfficientNMS_TRT", plugin_version="1", plugin_namespace="")]

    @property
    def all_creators(self):
        return list(self.creators)

    def load_library(self, path):
        self.creators += [SimpleNamespace(name=n, plugin_version=v, plugin_namespace=ns) for n, v, ns in self.registers]
        return f"handle of {path}" if self.registers else None


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "libvfi_trt_plugins.so"
    path.write_bytes(b"plugins")
    return path


@pytest.fixture
def fake_tensorrt(monkeypatch):
    """Install a `tensorrt` module with a Registry of the given creators (the runtime's CUDA check
    stood in for)."""
    from vfi.plugins import tensorrt_loading as trt_backend

    monkeypatch.setattr(trt_backend, "_LOADED_PLUGIN_LIBRARIES", {})
    monkeypatch.setattr(trt_backend, "import_cudart", lambda: SimpleNamespace(cudaDriverGetVersion=lambda: (0, 12040)))
    monkeypatch.setattr(trt_backend, "tensorrt_cuda_major", lambda: 12)

    def install(registers):
        module = ModuleType("tensorrt")
        module.__version__ = "10.13.0"
        registry = Registry(registers)
        module.get_plugin_registry = lambda: registry
        monkeypatch.setitem(sys.modules, "tensorrt", module)

    return install


def built(library) -> dict:
    """native.build_info's description of a build that made the plugin library only."""
    return {"ops": [op.name for op in OPS], "libraries": {"host": None, "cuda": None, "trt": str(library)}}


def test_creators_are_those_tensorrt_registers_from_the_library(library, fake_tensorrt):
    # Not the specs' list, so that the report shows it came from TensorRT.
    fake_tensorrt([("SepConv", "1", "vfi"), ("AdaCoF", "1", "vfi"), ("Probe", "7", "vfi")])
    report = info.trt_plugin_library(NO_TOOLCHAIN, built(library))
    assert report["path"] == str(library) and report["status"] == "built"
    assert report["creators"] == [{"name": "AdaCoF", "version": "1", "namespace": "vfi"},
                                  {"name": "Probe", "version": "7", "namespace": "vfi"},
                                  {"name": "SepConv", "version": "1", "namespace": "vfi"}]
    assert report["creators_source"] == "registered by TensorRT 10.13.0 from the library"


def test_creators_are_the_declared_ones_where_tensorrt_cannot_load_the_library(library, fake_tensorrt):
    fake_tensorrt([])
    report = info.trt_plugin_library(NO_TOOLCHAIN, built(library))
    assert report["creators"] == DECLARED
    assert report["creators_source"].startswith(
        f"declared by the op specs (TensorRT could not load the library here: {library.resolve()}: TensorRT could not load this plugin library"
    )


def test_creators_are_the_declared_ones_where_tensorrt_is_not_importable(library, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError
    report = info.trt_plugin_library(NO_TOOLCHAIN, built(library))
    assert report["path"] == str(library) and report["creators"] == DECLARED
    assert report["creators_source"].startswith("declared by the op specs (TensorRT not importable here: import of tensorrt halted")


def test_without_a_built_library_the_report_says_why(fake_tensorrt):
    fake_tensorrt([("SoftSplat", "1", "vfi")])  # importable, but there is nothing to load
    report = info.trt_plugin_library(NO_TOOLCHAIN, None)
    assert report["path"] is None and report["status"] == NO_TOOLCHAIN.missing("trt")
    assert report["creators"] == DECLARED and report["creators_source"] == "declared by the op specs (no library to load)"


def test_info_prints_the_library_and_its_creators(library, fake_tensorrt, monkeypatch, capsys):
    from vfi.plugins import native

    fake_tensorrt([("SoftSplat", "1", "vfi")])
    monkeypatch.setattr(native, "find_toolchain", lambda: NO_TOOLCHAIN)
    monkeypatch.setattr(native, "build_info", lambda toolchain: built(library))
    assert info.run(SimpleNamespace(json=False)) == 0
    out = capsys.readouterr().out
    assert f"TensorRT plugin library: {library}\n  creators registered by TensorRT 10.13.0 from the library:\n    vfi::SoftSplat v1\n" in out
