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
from test_ops import SAMPLE_CASES, scaled_error

from vfi.export.onnx import op_model
from vfi.plugins import OPS, get_op, native

pytestmark = [pytest.mark.gpu, pytest.mark.trt]


@functools.lru_cache(maxsize=None)
def _plugin_library() -> str:
    toolchain = native.find_toolchain()
    missing = toolchain.missing("trt")
    if missing:
        pytest.skip(f"needs libvfi_trt_plugins.so, which cannot be built here: {missing}")
    return str(native.library_path("trt", toolchain))


@functools.lru_cache(maxsize=None)
def _registry():
    import tensorrt as trt

    registry = trt.get_plugin_registry()
    assert registry.load_library(_plugin_library()) is not None
    return registry


@functools.lru_cache(maxsize=None)
def _logger_and_runtime():
    """One logger and runtime for the session: they outlive every engine."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    return logger, trt.Runtime(logger)


def _group(case) -> tuple:
    """Cases with the same attributes and present inputs can share an engine."""
    return tuple(sorted(case.attrs.items())), tuple(t is not None for t in case.inputs())


@functools.lru_cache(maxsize=None)
def _engine(op_name: str, group: tuple, dtype: torch.dtype):
    """An engine for the op's cases in `group`, deserialised from its serialised plan."""
    import tensorrt as trt

    _registry()
    op = get_op(op_name)
    attrs, present = dict(group[0]), group[1]
    shapes = [
        [tuple(t.shape) for t in case.inputs() if t is not None]
        for case in op.spec.sample_cases()
        if _group(case) == group
    ]
    model = op_model(op, attrs, present, dtype)
    del model.functions[:]  # no function body: the parser imports the node as our plugin
    logger, runtime = _logger_and_runtime()
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model.SerializeToString()):
        errors = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)]
        raise AssertionError(f"the ONNX parser failed: {errors}")
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    names = [t.name for t, given in zip(op.spec.inputs, present) if given]
    for i, name in enumerate(names):
        per_case = [s[i] for s in shapes]
        low = tuple(min(dims) for dims in zip(*per_case))
        high = tuple(max(dims) for dims in zip(*per_case))
        profile.set_shape(name, low, per_case[0], high)
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, "the engine build failed (see the TensorRT log above)"
    engine = runtime.deserialize_cuda_engine(bytes(plan))
    assert engine is not None, "the serialised engine did not deserialise"
    return engine


def _run_engine(op, case, inputs, dtype):
    engine = _engine(op.name, _group(case), dtype)
    context = engine.create_execution_context()
    inputs = [None if t is None else t.to(dtype).cuda().contiguous() for t in inputs]
    for spec, tensor in zip(op.spec.inputs, inputs):
        if tensor is not None:
            context.set_input_shape(spec.name, tuple(tensor.shape))
            context.set_tensor_address(spec.name, tensor.data_ptr())
    output = torch.empty(tuple(context.get_tensor_shape(op.spec.output.name)), dtype=dtype, device="cuda")
    context.set_tensor_address(op.spec.output.name, output.data_ptr())
    assert context.execute_async_v3(torch.cuda.current_stream().cuda_stream)
    torch.cuda.current_stream().synchronize()
    return output.cpu()


@pytest.mark.parametrize("op,case", SAMPLE_CASES)
def test_fp32_engine_matches_reference(op, case):
    inputs = case.inputs(torch.float32)
    expected = op.reference(*inputs, **case.attrs)
    actual = _run_engine(op, case, inputs, torch.float32)
    assert actual.dtype == torch.float32
    assert scaled_error(actual, expected) <= op.spec.tolerance.fp32


@pytest.mark.parametrize("op,case", SAMPLE_CASES)
def test_fp16_engine_error_is_bounded_by_fp32_error(op, case):
    """OPS.md: the fp16 engine's error vs an fp64 reference is bounded by the fp32 engine's on the
    same fp16-representable inputs."""
    inputs16 = case.inputs(torch.float16)
    exact = op.reference(*(None if t is None else t.double() for t in inputs16), **case.attrs)
    error32 = scaled_error(_run_engine(op, case, inputs16, torch.float32), exact)
    actual16 = _run_engine(op, case, inputs16, torch.float16)
    assert actual16.dtype == torch.float16
    tol = op.spec.tolerance
    assert scaled_error(actual16, exact) <= tol.fp16_factor * error32 + tol.fp16_floor


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in OPS])
def test_loaded_creator_declares_the_spec_attributes(op):
    creator = _registry().get_creator(op.spec.plugin_name, op.spec.plugin_version, op.spec.plugin_namespace)
    assert creator is not None
    assert [f.name for f in creator.field_names] == [a.name for a in op.spec.attrs]


def test_plain_dlopen_then_load_library_both_register_the_creators():
    """Polygraphy --plugins loads the library with ctypes.CDLL; TensorRT's load_library must
    still work afterwards in the same process."""
    script = f"""
import ctypes, tensorrt as trt
ctypes.CDLL({_plugin_library()!r})
registry = trt.get_plugin_registry()
names = {[(o.spec.plugin_name, o.spec.plugin_version, o.spec.plugin_namespace) for o in OPS]!r}
assert all(registry.get_creator(*n) is not None for n in names), "not registered by dlopen"
assert registry.load_library({_plugin_library()!r}) is not None, "load_library failed after dlopen"
assert all(registry.get_creator(*n) is not None for n in names), "not registered after load_library"
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
