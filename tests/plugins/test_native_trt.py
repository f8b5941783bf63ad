"""The TensorRT plugins: a one-node engine per op, built from the single-op ONNX model with its
function bodies stripped (so the parser maps the node to our plugin), strongly typed, fp32 and
fp16, with dynamic shapes, serialised and deserialised, against the reference. Generated from the
registry: the sample cases of an op that share attributes and inputs run through one engine whose
optimisation profile spans their shapes.
"""

from __future__ import annotations

import functools
import subprocess
import sys

import pytest
import torch
from test_ops import NATIVE_SAMPLE_CASES, scaled_error

from vfi.plugins import NATIVE_OPS, native, one_node_engines

pytestmark = [pytest.mark.gpu, pytest.mark.trt]
LOAD_TIMEOUT_S = 120  # loading takes seconds; a subprocess still loading after this is taken as hung


@functools.lru_cache(maxsize=None)
def _plugin_library() -> str:
    toolchain = native.find_toolchain()
    missing = toolchain.missing("trt")
    if missing:
        pytest.skip(f"needs libvfi_trt_plugins.so, which cannot be built here: {missing}")
    return str(native.library_path("trt", toolchain))


def _run_engine(op, case, inputs, dtype):
    _plugin_library()  # skips with the reason where the library cannot be built
    return one_node_engines.run(op, case, inputs, dtype)


@pytest.mark.parametrize("op,case", NATIVE_SAMPLE_CASES)
def test_fp32_engine_matches_reference(op, case):
    inputs = case.inputs(torch.float32)
    expected = op.reference(*inputs, **case.attrs)
    actual = _run_engine(op, case, inputs, torch.float32)
    assert actual.dtype == torch.float32
    assert scaled_error(actual, expected) <= op.spec.tolerance.fp32


@pytest.mark.parametrize("op,case", NATIVE_SAMPLE_CASES)
def test_fp16_engine_error_is_bounded_by_fp32_error(op, case):
    """OPS.md: the fp16 engine's error vs an fp64 reference is bounded by the fp32 engine's on the
    same fp16-representable inputs."""
    inputs16 = case.inputs(torch.float16)
    exact = op.reference(*(None if t is None else t.double() for t in inputs16), **case.attrs)
    error32 = scaled_error(_run_engine(op, case, inputs16, torch.float32), exact)
    actual16 = _run_engine(op, case, inputs16, torch.float16)
    assert actual16.dtype == torch.float16
    tol = op.spec.tolerance
    assert scaled_error(actual16, exact) <= tol.fp16_bound(error32)


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in NATIVE_OPS])
def test_loaded_creator_declares_the_spec_attributes(op):
    import tensorrt as trt

    _plugin_library()
    one_node_engines.tensorrt_session()  # loads the library once per process
    creator = trt.get_plugin_registry().get_creator(op.spec.plugin_name, op.spec.plugin_version, op.spec.plugin_namespace)
    assert creator is not None
    assert [f.name for f in creator.field_names] == [a.name for a in op.spec.attrs]


def test_plain_dlopen_then_load_library_both_register_the_creators():
    """Polygraphy --plugins loads the library with ctypes.CDLL; TensorRT's load_library must
    still work afterwards in the same process."""
    script = f"""
import ctypes, tensorrt as trt
ctypes.CDLL({_plugin_library()!r})
registry = trt.get_plugin_registry()
names = {[(o.spec.plugin_name, o.spec.plugin_version, o.spec.plugin_namespace) for o in NATIVE_OPS]!r}
assert all(registry.get_creator(*n) is not None for n in names), "not registered by dlopen"
assert registry.load_library({_plugin_library()!r}) is not None, "load_library failed after dlopen"
assert all(registry.get_creator(*n) is not None for n in names), "not registered after load_library"
"""
    # A deadlock in loadLibrary (the library registers its creators from a static constructor and
    # withdraws them inside getCreators()) must fail this test, not hang the run.
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=LOAD_TIMEOUT_S)
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else expired.stderr or ""
        pytest.fail(f"dlopen then load_library did not finish in {LOAD_TIMEOUT_S} s (a deadlock in loadLibrary?); stderr: {stderr}")
    assert result.returncode == 0, result.stderr
