"""The TensorRT plugins taken through TensorRT's plugin lifecycle on the CPU, once per TensorRT
header version in VFI_TRT_INCLUDE: the plugin library rebuilt with the emulated CUDA kernels as its
launchers and driven by vfi_trt_lifecycle (vfi/plugins/lifecycle/trt_lifecycle.cpp), which plays
TensorRT's part (loadLibrary, creation from the fields the ONNX parser makes of a node's
attributes, the build queries, serialisation and re-creation, enqueue) under AddressSanitizer and
UndefinedBehaviorSanitizer. Every op's sample cases against the reference in fp32 and fp16; what
the plugins must refuse, each with one clear message; the library's exported symbols. Needs the
TensorRT and CUDA headers, neither TensorRT nor a GPU.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import pytest
import torch
from test_native_build import _trt_include_dirs
from test_ops import NATIVE_SAMPLE_CASES

from vfi.plugins import NATIVE_OPS, get_op, native, sample_reference
from vfi.plugins.spec import scaled_error

# Larger cases only take longer here (the emulation runs one OS thread per CUDA thread): the
# emulated-kernel tier runs them against the same kernels.
PIXEL_LIMIT = 20_000

INCLUDE_DIRS = _trt_include_dirs()
OP_PARAMS = [pytest.param(op, id=op.name) for op in NATIVE_OPS]


def _small(case_params):
    small = []
    for param in case_params:
        op, case = param.values
        n, _, h, w = op.output_shape(case.inputs(), case.attrs)
        if n * h * w <= PIXEL_LIMIT:
            small.append(param)
    return small


SMALL_CASES = _small(NATIVE_SAMPLE_CASES)


@functools.lru_cache(maxsize=None)
def _toolchain(include_dir: str) -> native.Toolchain:
    return native.find_toolchain(trt_include_dir=include_dir)


def _lifecycle(include_dir, op, inputs, attrs, output_shape=None, invalid=None):
    toolchain = _toolchain(include_dir)
    missing = toolchain.missing("lifecycle")
    if missing:
        pytest.skip(f"the TensorRT plugin lifecycle driver cannot be built here: {missing}")
    shape = output_shape or op.output_shape(inputs, attrs)
    return native.run_plugin_lifecycle(op, inputs, attrs, shape, toolchain=toolchain, invalid=invalid)


@pytest.mark.parametrize("op,case", SMALL_CASES)
@pytest.mark.parametrize("include_dir", INCLUDE_DIRS)
def test_fp32_plugin_lifecycle_matchessample_reference(include_dir, op, case):
    actual = _lifecycle(include_dir, op, case.inputs(torch.float32), case.attrs)
    assert actual.dtype == torch.float32
    assert scaled_error(actual, sample_reference(op.name, case.name, torch.float32, torch.float32)) <= op.spec.tolerance.fp32


@pytest.mark.parametrize("op,case", SMALL_CASES)
@pytest.mark.parametrize("include_dir", INCLUDE_DIRS)
def test_fp16_plugin_lifecycle_error_is_bounded_by_fp32_error(include_dir, op, case):
    """The bound of test_native_kernels.py: the fp16 plugin's error against an fp64 reference is at
    most fp16_factor x the fp32 plugin's error on the same fp16-representable inputs + fp16_floor."""
    exact = sample_reference(op.name, case.name, torch.float16, torch.float64)
    inputs16 = case.inputs(torch.float16)
    inputs32 = tuple(None if t is None else t.float() for t in inputs16)
    error32 = scaled_error(_lifecycle(include_dir, op, inputs32, case.attrs), exact)
    actual16 = _lifecycle(include_dir, op, inputs16, case.attrs)
    assert actual16.dtype == torch.float16
    tol = op.spec.tolerance
    assert scaled_error(actual16, exact) <= tol.fp16_bound(error32)


def _first_case(op, mode=None):
    """The op's first sample case (of softsplat `mode` when given): inputs, attrs, output shape."""
    case = next(c for c in op.spec.sample_cases() if mode is None or c.attrs.get("mode") == mode)
    inputs = case.inputs()
    return inputs, case.attrs, op.output_shape(inputs, case.attrs)


# Attribute values createPlugin must refuse: (op, mode of the case whose inputs serve, the bad
# attributes, the message).
BAD_ATTRIBUTES = [
    pytest.param("softsplat", "soft", {"mode": "softmax", "eps": 1e-7},
                 "attribute 'mode' must be one of sum, avg, linear, soft, got 'softmax'", id="softsplat-mode"),
    pytest.param("adacof", None, {"dilation": 0}, "attribute 'dilation' must be an integer >= 1, got 0", id="adacof-dilation0"),
]


@pytest.mark.parametrize("op_name,mode,attrs,message", BAD_ATTRIBUTES)
@pytest.mark.parametrize("include_dir", INCLUDE_DIRS)
def test_create_plugin_refuses_bad_attribute_values(include_dir, op_name, mode, attrs, message):
    op = get_op(op_name)
    inputs, _, shape = _first_case(op, mode)
    with pytest.raises(native.NativeError) as error:
        _lifecycle(include_dir, op, inputs, attrs, shape)
    assert f"{op.spec.plugin_namespace}::{op.spec.plugin_name}: {message}" in str(error.value)


def _broken_step_messages(op) -> dict:
    """--invalid mode -> the message the plugin must log (see trt_lifecycle.cpp)."""
    n = sum(t is not None for t in _first_case(op)[0])
    messages = {
        "unknown-field": "unknown attribute 'bogus'",
        "output-shapes-count": f"expects {n} inputs and 1 output for its attributes, got {n - 1} inputs",
        "output-shapes-rank": "input 0 must have rank 4 (NCHW), got rank 3",
        # Input 1 one pixel wider: each op's own shape check names the input that disagrees.
        "shape-change": {
            "softsplat": "softsplat: flow must have shape [N,2,H,W] with the input's N, H and W",
            "sepconv": "sepconv: horizontal must have the shape [N,K,H,W] of vertical",
            "adacof": "adacof: alpha must have the shape [N,F*F,H,W] of weight",
        }[op.name],
    }
    # The first attribute with another ONNX type: STRING or FLOAT -> INT, INT -> FLOAT.
    if op.spec.attrs:
        first = op.spec.attrs[0]
        expected = {str: "a string (PluginFieldType::kCHAR), got PluginFieldType 5",
                    int: "one int (PluginFieldType::kINT32), got PluginFieldType 1",
                    float: "one float (PluginFieldType::kFLOAT32), got PluginFieldType 5"}[first.kind]
        messages["field-type"] = f"attribute '{first.name}' must be {expected} of length 1"
    return messages


BROKEN_STEPS = [
    pytest.param(op, mode, id=f"{op.name}-{mode}")
    for op in NATIVE_OPS
    for mode in native.LIFECYCLE_INVALID_MODES
    if mode in _broken_step_messages(op)
]


def test_every_broken_step_is_tested():
    assert {p.values[1] for p in BROKEN_STEPS} == set(native.LIFECYCLE_INVALID_MODES)


@pytest.mark.parametrize("op,mode", BROKEN_STEPS)
@pytest.mark.parametrize("include_dir", INCLUDE_DIRS)
def test_plugin_refuses_a_broken_lifecycle_step_with_one_message(include_dir, op, mode):
    """A wrong field type or an unknown field (createPlugin), too few inputs or a rank-3 input
    (getOutputShapes), inconsistent execution shapes (onShapeChange): the driver requires the call
    to fail having logged exactly one error naming the plugin, without a sanitizer report."""
    inputs, attrs, shape = _first_case(op)
    with pytest.raises(native.NativeError) as error:
        _lifecycle(include_dir, op, inputs, attrs, shape, invalid=mode)
    assert f"{op.spec.plugin_namespace}::{op.spec.plugin_name}: {_broken_step_messages(op)[mode]}" in str(error.value)


@pytest.mark.parametrize("include_dir", INCLUDE_DIRS)
def test_lifecycle_plugin_library_exports_only_the_entry_points(include_dir):
    """Built by vfi_plugin_library, as libvfi_trt_plugins.so is: getCreators and setLoggerFinder
    and nothing else, so nothing of ours can clash with another library's symbols."""
    if shutil.which("nm") is None:
        pytest.skip("needs nm (binutils) to list the library's dynamic symbols")
    toolchain = _toolchain(include_dir)
    if toolchain.missing("lifecycle"):
        pytest.skip(f"the TensorRT plugin lifecycle driver cannot be built here: {toolchain.missing('lifecycle')}")
    library = native.library_path("lifecycle", toolchain).parent.parent / native.LIFECYCLE_PLUGINS
    nm = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True)
    exported = sorted(line.split()[-1] for line in nm.stdout.splitlines() if line.strip())
    assert exported == ["getCreators", "setLoggerFinder"]
