"""INT8 variants: explicit Q/DQ from calibration on real frames, by one of two quantizers.

`ort` (the default), onnxruntime.quantization's quantize_static in QDQ format, placed as TensorRT
fuses into INT8 kernels: the inputs of Conv, MatMul and Gemm (activations symmetric int8 from
calibration, weights symmetric int8 per output channel); their outputs and biases stay float, and
no other op is quantized. `modelopt`, NVIDIA ModelOpt's modelopt.onnx.quantization (TensorRT 11's
recommended path for explicit quantization), places Q/DQ by its own TensorRT-guided rules (also on
the inputs of Add, Resize, pooling, … that TensorRT runs in INT8 next to a quantized convolution);
the ops it does not quantize stay fp32, as in the `ort` variant (ModelOpt would make them fp16).
With either, the `vfi::` nodes are never quantized and never read a dequantized tensor: where a
quantized node's input also feeds another node, that node is wired back to the original float
tensor (ONNX Runtime's quantizer, which ModelOpt calls too, would otherwise hand every consumer
the dequantized copy). Function bodies are left as they are.

Calibration feeds each sample of a `vfi calib collect` folder as frame0, frame1, … (and t = 0.5
to models that take t): pairs for the frame-pair models, runs of three or four downscaled frames
for DSFN. ONNX Runtime's recommended pre-processing (symbolic shape inference and graph
optimisation) is not run: the optimiser would rewrite the `vfi::` nodes and their bodies.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import functools
import importlib
import importlib.metadata
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx

from vfi.calib.store import frame_names, load_sample, read_manifest, store_digest
from vfi.errors import VfiError
from vfi.export import artifact
from vfi.export.artifact import ArtifactInfo, Precision
from vfi.export.graph import control_flow, metadata, update_metadata
from vfi.export.onnx import save_model
from vfi.plugins.onnx_model import check_model, custom_nodes

QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")  # the ops the `ort` quantizer quantizes
CALIB_METHODS = ("entropy", "percentile", "minmax")
QUANTIZERS = ("ort", "modelopt")
MODELOPT_METHODS = {"minmax": "max", "entropy": "entropy"}  # ours -> ModelOpt's (symmetric max is min-max)
MODELOPT_INSTALL = "pip install 'vfi[modelopt]'"
MIDPOINT = 0.5  # the t fed to arbitrary-t models during calibration


class QuantizationError(VfiError):
    pass


def _reader(inputs: list[str], calib: Path, entries: list[dict]):
    """ONNX Runtime's calibration reader over the store's samples: a model with k frame inputs
    (frame0 … frame{k-1}, and t for arbitrary-t models) takes the first k frames of each sample.
    `set_range` lets the quantizer calibrate one sample at a time (see to_int8)."""
    from onnxruntime.quantization import CalibrationDataReader

    frames = [name for name in inputs if name != "t"]
    if len(frames) < 2 or frames != frame_names(len(frames)) or inputs[len(frames):] not in ([], ["t"]):
        raise QuantizationError(
            f"INT8 calibration feeds consecutive frames (frame0, frame1, …[, t]); this model takes ({', '.join(inputs)})"
        )
    short = min(len(entry["frames"]) for entry in entries)
    if short < len(frames):
        raise QuantizationError(
            f"{calib}: samples of {short} frames; this model takes {len(frames)} "
            f"(collect with `vfi calib collect --frames {len(frames)}`)"
        )

    class SampleReader(CalibrationDataReader):
        def __init__(self):
            self.set_range(0, len(entries))

        def __len__(self):
            return len(entries)

        def set_range(self, start_index: int, end_index: int):
            self.pending = iter(entries[start_index:end_index])

        def get_next(self):
            entry = next(self.pending, None)
            if entry is None:
                return None
            sample = load_sample(calib, entry)
            feeds = {name: sample[name] for name in frames}
            if "t" in inputs:
                feeds["t"] = np.full((1,), MIDPOINT, np.float32)
            return feeds

    return SampleReader()


def to_int8(model: onnx.ModelProto, calib: str | Path, method: str = "entropy", quantizer: str = "ort") -> onnx.ModelProto:
    """The INT8 (Q/DQ) variant of the float32 `model` (not modified), calibrated on the samples in
    the folder `calib` by `quantizer` (one of QUANTIZERS)."""
    if method not in CALIB_METHODS:
        raise ValueError(f"method must be one of {CALIB_METHODS}, got {method!r}")
    if quantizer not in QUANTIZERS:
        raise ValueError(f"quantizer must be one of {QUANTIZERS}, got {quantizer!r}")
    if not any(node.op_type in QUANTIZED_OPS for node in model.graph.node):
        raise QuantizationError(
            f"INT8 has nothing to quantize: the model has no {', '.join(QUANTIZED_OPS)} nodes, so its INT8 variant "
            "would be the fp32 model (classic: use its fp32 or fp16 file)"
        )
    if control_flow(model):
        raise QuantizationError(
            f"INT8 quantization does not support control flow ({', '.join(control_flow(model))} nodes): ONNX "
            "Runtime's quantizer rewrites the loop bodies into an invalid model"
        )
    if quantizer == "modelopt":
        quantize, version = _quantize_with_modelopt, require_modelopt(method)
    else:
        import onnxruntime

        quantize, version = _quantize_with_ort, onnxruntime.__version__
    calib = Path(calib).absolute()  # read from ModelOpt's working directory too
    manifest = read_manifest(calib)
    make_reader = functools.partial(_reader, [i.name for i in model.graph.input], calib, manifest["samples"])
    make_reader()  # a model and a store that do not fit are refused here, before a quantizer starts
    excluded = [node.name for node in custom_nodes(model.graph)]
    with tempfile.TemporaryDirectory(prefix="vfi-int8-") as tmp, _quiet_quantizer():
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        save_model(model, source)  # the quantizers read a file: quantize_static rewrites an in-memory model's initializers
        quantize(source, target, make_reader, method, excluded)
        quantized = onnx.load(target)
    restore_float_inputs(quantized, QUANTIZED_OPS if quantizer == "ort" else None)
    # ModelOpt writes a model without metadata_props; the variant keeps the fp32 file's.
    update_metadata(quantized, {**metadata(model), **metadata(quantized)})
    update_metadata(quantized, {
        artifact.PRECISION: Precision.INT8.value,
        artifact.IO_DTYPE: "fp32",
        artifact.CALIBRATION: json.dumps({
            "quantizer": quantizer,
            "quantizer_version": version,
            "method": method,
            "samples": len(manifest["samples"]),
            "manifest_sha256": store_digest(calib),
            "quantized_ops": sorted(dequantized_readers(quantized)),
        }),
    })
    check_model(quantized)
    return quantized


def _quantize_with_ort(source: Path, target: Path, make_reader, method: str, excluded: list[str]) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(source),
        str(target),
        make_reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(QUANTIZED_OPS),
        nodes_to_exclude=excluded,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method={
            "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile,
            "minmax": CalibrationMethod.MinMax,
        }[method],
        extra_options={
            "ActivationSymmetric": True,
            "WeightSymmetric": True,
            "QuantizeBias": False,  # TensorRT takes float biases
            "OpTypesToExcludeOutputQuantization": list(QUANTIZED_OPS),
            "DedicatedQDQPair": True,  # one Q/DQ pair per quantized consumer, as TensorRT fuses them
            # Calibrate sample by sample, whatever the method: the histogram calibrators otherwise keep
            # every sample's intermediate tensors in memory at once (gigabytes per full-size frame).
            "CalibStridedMinMax": 1,
        },
    )


def require_modelopt(method: str) -> str:
    """ModelOpt's version, after checking that its ONNX quantizer imports and offers `method`."""
    if method not in MODELOPT_METHODS:
        raise QuantizationError(
            f"ModelOpt's INT8 calibration has no {method} method; use --calib-method "
            f"{' or '.join(MODELOPT_METHODS)} with --quantizer modelopt"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its import warns about optional packages it does not need here
            importlib.import_module("modelopt.onnx.quantization")
    except ImportError as exc:
        first = str(exc).strip().splitlines()[0]
        raise QuantizationError(f"--quantizer modelopt needs NVIDIA ModelOpt ({first}); install it with {MODELOPT_INSTALL}") from None
    return importlib.metadata.version("nvidia-modelopt")


def _quantize_with_modelopt(source: Path, target: Path, make_reader, method: str, excluded: list[str]) -> None:
    """ModelOpt in a process of its own: it patches onnxruntime.quantization's calibrators and
    quantizers for the rest of the process it runs in (modelopt.onnx.quantization.ort_patching,
    never undone), which changes what the `ort` quantizer does afterwards (it then fails on some
    models); and ONNX Runtime's symbolic shape inference, which it calls, saves a model it could not
    complete into the working directory, with its weights in uuid-named files."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            pool.submit(_modelopt_quantize, source, target, make_reader, method, excluded).result()
        except Exception as exc:  # whatever ModelOpt raised, or BrokenProcessPool when its process died
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise QuantizationError(f"ModelOpt could not quantize the model ({type(exc).__name__}: {first})") from exc


def _modelopt_quantize(source: Path, target: Path, make_reader, method: str, excluded: list[str]) -> None:
    """The child process's work (see _quantize_with_modelopt)."""
    os.chdir(target.parent)
    with warnings.catch_warnings(), _quiet_quantizer():
        warnings.simplefilter("ignore")  # its import warns about optional packages it does not need here
        import modelopt.onnx.quantization as modelopt_quantization

        modelopt_quantization.quantize(
            str(source),
            quantize_mode="int8",
            calibration_data_reader=make_reader(),
            calibration_method=MODELOPT_METHODS[method],
            calibration_eps=["cpu"],  # calibrate through ONNX Runtime on the CPU, on any machine
            nodes_to_exclude=excluded,
            high_precision_dtype="fp32",  # what it does not quantize stays fp32, as in the ort variant
            output_path=str(target),
            # Its warnings and errors are progress notes (e.g. NVML missing on a CPU machine, logged as
            # an error and then ignored); a real failure raises.
            log_level="CRITICAL",
        )


def dequantized_readers(model: onnx.ModelProto) -> collections.Counter[str]:
    """The op types of the main graph that read a dequantized activation or weight, each with the
    number of dequantized inputs it reads."""
    dequantized = {node.output[0] for node in model.graph.node if node.op_type == "DequantizeLinear"}
    return collections.Counter(node.op_type for node in model.graph.node if node.op_type != "QuantizeLinear"
                               for name in node.input if name in dequantized)


def restore_float_inputs(model: onnx.ModelProto, quantized_ops: tuple[str, ...] | None) -> onnx.ModelProto:
    """Wire every node that reads a dequantized activation but is not a quantized op back to the
    float tensor that was quantized: a `vfi::` node always, a standard-op node unless its type is in
    `quantized_ops` (None: every standard op may be, as the quantizer placed it). A graph output
    that is a dequantized activation is refused."""
    producers = {out: node for node in model.graph.node for out in node.output}
    originals = {}  # dequantized activation -> the float tensor its Q/DQ pair quantized
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in producers:
            quantize = producers[node.input[0]]
            if quantize.op_type == "QuantizeLinear":
                originals[node.output[0]] = quantize.input[0]
    for node in model.graph.node:
        if not _may_read_dequantized(node, quantized_ops):
            for i, name in enumerate(node.input):
                if name in originals:
                    node.input[i] = originals[name]
    for output in model.graph.output:
        if output.name in originals:
            raise QuantizationError(f"graph output {output.name} is also a quantized input; not supported")
    return model


def _may_read_dequantized(node: onnx.NodeProto, quantized_ops: tuple[str, ...] | None) -> bool:
    if node.domain not in ("", "ai.onnx"):
        return False
    return quantized_ops is None or node.op_type in quantized_ops


def qdq_violations(model: onnx.ModelProto) -> list[str]:
    """Where the model breaks the placement rule: every QuantizeLinear feeds only DequantizeLinear,
    every DequantizeLinear feeds only quantized ops (for the `ort` quantizer Conv, MatMul and Gemm;
    for `modelopt` any standard op, as it placed them), no `vfi::` node reads a dequantized tensor,
    and no function body holds Q/DQ."""
    quantized_ops = None if ArtifactInfo.from_metadata(metadata(model)).quantizer == "modelopt" else QUANTIZED_OPS
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    problems = []
    for node in model.graph.node:
        readers = consumers.get(node.output[0], []) if node.output else []
        if node.op_type == "QuantizeLinear":
            problems += [f"{node.name} feeds {r.op_type} {r.name}" for r in readers if r.op_type != "DequantizeLinear"]
        elif node.op_type == "DequantizeLinear":
            problems += [f"{node.name} feeds {r.domain + '::' if r.domain else ''}{r.op_type} {r.name}"
                         for r in readers if not _may_read_dequantized(r, quantized_ops)]
    outputs = {o.name for o in model.graph.output}
    problems += [f"{node.name} produces graph output {node.output[0]}"
                 for node in model.graph.node if node.op_type == "DequantizeLinear" and node.output[0] in outputs]
    for function in model.functions:
        problems += [f"function {function.domain}::{function.name} holds {n.op_type}"
                     for n in function.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    return problems


@contextlib.contextmanager
def _quiet_quantizer():
    """ONNX Runtime's quantizer logs a pre-processing hint on the root logger (see the module
    docstring for why it is not followed) and prints calibration progress to stdout; keep stdout
    for vfi's own output."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        root.setLevel(level)
