"""The native build: every op has its sources and its place in the CMake op list, the CUDA kernels
compile with nvcc, the plugin sources compile against TensorRT headers, the build cache is keyed
by what the binaries depend on, and the plugin creators declare exactly the spec's attributes.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from vfi.plugins.onnx_model import custom_nodes, node_attrs
from vfi.plugins.onnx_model import op_model
from vfi.plugins import NATIVE_OPS, native
from vfi.plugins.onnx_function import PLUGIN_ATTRS

OP_PARAMS = [pytest.param(op, id=op.name) for op in NATIVE_OPS]
CSRC_FILES = ("{op}_kernel.cuh", "{op}_kernel.cu", "{op}_host.cpp", "{op}_plugin.h", "{op}_plugin.cpp")
# PluginFieldType of each attribute kind, as the ONNX parser passes an attribute of that kind.
FIELD_TYPES = {str: "kCHAR", float: "kFLOAT32", int: "kINT32"}


def _cmake_op_list() -> list[str]:
    text = (native.PLUGINS_DIR / "CMakeLists.txt").read_text()
    return re.search(r"set\(VFI_OPS\s+([^)]*)\)", text).group(1).split()


def _declared_fields(op) -> list[tuple[str, str]]:
    source = (native.PLUGINS_DIR / op.name / "csrc" / f"{op.name}_plugin.cpp").read_text()
    return re.findall(r'declareField\("(\w+)", PluginFieldType::(k\w+)\)', source)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_every_op_has_native_sources_and_is_in_the_cmake_op_list(op):
    csrc = native.PLUGINS_DIR / op.name / "csrc"
    assert [f.format(op=op.name) for f in CSRC_FILES if not (csrc / f.format(op=op.name)).is_file()] == []
    assert op.name in _cmake_op_list()
    assert sorted(_cmake_op_list()) == sorted(o.name for o in NATIVE_OPS)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_plugin_identity_matches_the_spec(op):
    header = (native.PLUGINS_DIR / op.name / "csrc" / f"{op.name}_plugin.h").read_text()
    assert re.findall(r'kName = "(\w+)"', header) == [op.spec.plugin_name]
    common = (native.PLUGINS_DIR / "common" / "vfi_plugin.h").read_text()
    assert re.search(r'kNamespace\[\] = "(\w+)"', common).group(1) == op.spec.plugin_namespace
    assert re.search(r'kVersion\[\] = "(\w+)"', common).group(1) == op.spec.plugin_version


@pytest.mark.parametrize("op", OP_PARAMS)
def test_creator_fields_equal_spec_and_onnx_attributes(op):
    declared = _declared_fields(op)
    assert declared == [(a.name, FIELD_TYPES[a.kind]) for a in op.spec.attrs]
    case = op.spec.sample_cases()[0]
    model = op_model(op, case.attrs, tuple(t is not None for t in case.inputs()))
    (node,) = custom_nodes(model.graph)
    onnx_attrs = {k: v for k, v in node_attrs(node).items() if k not in PLUGIN_ATTRS}
    assert sorted(onnx_attrs) == sorted(name for name, _ in declared)


def test_cuda_kernels_compile():
    toolchain = native.find_toolchain()
    if toolchain.missing("cuda"):
        pytest.skip(f"needs nvcc to compile the kernels: {toolchain.missing('cuda')}")
    info = native.build(["cuda"], toolchain)
    assert info["status"]["cuda"] == "built", info["status"]["cuda"]
    library = ctypes.CDLL(info["libraries"]["cuda"])  # loads without a GPU: the runtime is static
    for op in NATIVE_OPS:
        for dtype in ("f32", "f16"):
            assert hasattr(library, f"vfi_{op.name}_cuda_{dtype}")


def _trt_include_dirs():
    """VFI_TRT_INCLUDE: TensorRT include/ folders (os.pathsep-separated), e.g. the NVIDIA/TensorRT
    OSS headers of a 10.x and an 11.x release, kept outside the repository."""
    dirs = [d for d in os.environ.get("VFI_TRT_INCLUDE", "").split(os.pathsep) if d]
    if not dirs:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason="needs TensorRT headers: set VFI_TRT_INCLUDE to a TensorRT include/ folder "
            "(e.g. `include` of the NVIDIA/TensorRT GitHub repository at a release tag)"))]
    return [pytest.param(d, id=os.path.basename(os.path.dirname(d.rstrip("/"))) or d) for d in dirs]


@pytest.mark.parametrize("include_dir", _trt_include_dirs())
def test_plugin_sources_compile_against_tensorrt_headers(include_dir):
    toolchain = native.find_toolchain(trt_include_dir=include_dir, trt_compile_check=True)
    if toolchain.nvcc is None:
        pytest.skip("needs the CUDA toolkit's runtime headers, found through nvcc: nvcc is not on PATH, "
                    "in CUDACXX or in /usr/local/cuda/bin")
    info = native.build(["trt_check"], toolchain)
    assert info["status"]["trt_check"] == "built", info["status"]["trt_check"]


def test_build_directory_is_keyed_by_toolchain_and_cache_dir(tmp_path, monkeypatch):
    toolchain = native.find_toolchain()
    monkeypatch.setenv("VFI_CACHE_DIR", str(tmp_path))
    directory = native.build_dir(toolchain)
    assert directory.parent == tmp_path / "plugins"
    assert native.build_dir(toolchain) == directory
    for changed in (
        replace(toolchain, cuda_architectures="90"),
        replace(toolchain, cuda_version="0.0.0"),
        replace(toolchain, trt_version="0.0.0"),
    ):
        assert native.build_dir(changed) != directory


def test_build_writes_build_info_next_to_the_libraries():
    info = native.build(["host"])
    assert info["status"]["host"] == "built"
    host = Path(info["libraries"]["host"])
    assert json.loads((host.parent / "build-info.json").read_text()) == info
    assert info["ops"] == _cmake_op_list()
    assert native.build_info() == info
