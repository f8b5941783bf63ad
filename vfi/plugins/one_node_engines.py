"""One-node TensorRT engines per op: the single-op ONNX model with its function body stripped, so
the ONNX parser imports the node as our plugin, strongly typed, fp32 or fp16, with an
optimisation profile spanning the shapes of the op's sample cases that share attributes and
inputs, serialised and deserialised. Used by `vfi plugins selftest` and
tests/plugins/test_native_trt.py; needs TensorRT, a GPU and the plugin library.
"""

from __future__ import annotations

import functools

import torch

from vfi.plugins.onnx_model import op_model
from vfi.plugins import get_op, native


@functools.lru_cache(maxsize=None)
def tensorrt_session():
    """TensorRT with our plugin library loaded (once per process, through the helper the engine
    builder and the trt backend use), and one logger and runtime that outlive every engine."""
    import tensorrt as trt

    from vfi.plugins.tensorrt_loading import Cuda, import_cudart, load_plugin_library

    load_plugin_library(trt, native.library_path("trt"), Cuda(import_cudart()))
    logger = trt.Logger(trt.Logger.WARNING)
    return trt, logger, trt.Runtime(logger)


def group_of(case) -> tuple:
    """Cases with the same attributes and present inputs share an engine."""
    return tuple(sorted(case.attrs.items())), tuple(t is not None for t in case.inputs())


@functools.lru_cache(maxsize=None)
def engine(op_name: str, group: tuple, dtype: torch.dtype):
    trt, logger, runtime = tensorrt_session()
    op = get_op(op_name)
    attrs, present = dict(group[0]), group[1]
    shapes = [
        [tuple(t.shape) for t in case.inputs() if t is not None]
        for case in op.spec.sample_cases()
        if group_of(case) == group
    ]
    model = op_model(op, attrs, present, dtype)
    del model.functions[:]  # no function body: the parser imports the node as our plugin
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model.SerializeToString()):
        errors = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)]
        raise native.NativeError(f"{op_name}: the ONNX parser failed: {errors}")
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
    if plan is None:
        raise native.NativeError(f"{op_name}: the engine build failed (see the TensorRT log above)")
    built = runtime.deserialize_cuda_engine(bytes(plan))
    if built is None:
        raise native.NativeError(f"{op_name}: the serialised engine did not deserialise")
    return built


def run(op, case, inputs: tuple, dtype: torch.dtype) -> torch.Tensor:
    """The op on `inputs` (the case's, in any dtype) through the engine of the case's group."""
    context = engine(op.name, group_of(case), dtype).create_execution_context()
    inputs = [None if t is None else t.to(dtype).cuda().contiguous() for t in inputs]
    for spec, tensor in zip(op.spec.inputs, inputs):
        if tensor is not None:
            context.set_input_shape(spec.name, tuple(tensor.shape))
            if not context.set_tensor_address(spec.name, tensor.data_ptr()):
                raise native.NativeError(f"{op.name}: TensorRT refused the address of input {spec.name}")
    output = torch.empty(tuple(context.get_tensor_shape(op.spec.output.name)), dtype=dtype, device="cuda")
    if not context.set_tensor_address(op.spec.output.name, output.data_ptr()):
        raise native.NativeError(f"{op.name}: TensorRT refused the address of the output")
    if not context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
        raise native.NativeError(f"{op.name}: the engine failed to enqueue (see the TensorRT log above)")
    torch.cuda.current_stream().synchronize()
    return output.cpu()
