"""`vfi plugins selftest`: every op through every layer of the native stack this machine has,
against the PyTorch reference, as one table op × layer × dtype.

Layers, in the order a problem would show up: the CPU harness (the kernels' arithmetic); the CUDA
kernels emulated on the CPU under sanitizers; the CUDA kernels on a GPU; the plugin library driven
through TensorRT's plugin lifecycle with the emulated kernels as its launcher, once per TensorRT
header version given; one-node TensorRT engines (real TensorRT on a GPU). A layer this machine
cannot run is reported `unavailable: <reason>`; the command exits 0 only when every available
layer passes. Pass/fail uses the ops' own tolerances (vfi.plugins.spec.Tolerance): fp32 against
the fp32 reference, fp16 against an fp64 reference within fp16_factor × the same layer's fp32 error
on the same fp16-representable inputs + fp16_floor.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from vfi.plugins import NATIVE_OPS, native, sample_reference
from vfi.plugins.spec import scaled_error

DTYPES = (torch.float32, torch.float16)


@dataclass
class Layer:
    name: str
    unavailable: str | None  # why this machine cannot run it, None when it can
    # (op, case, inputs, output_shape) -> output on the CPU
    run: Callable | None = None


@dataclass
class Row:
    op: str
    layer: str
    dtype: str
    status: str  # pass, fail, or unavailable: <reason>
    cases: int = 0
    worst_error: float | None = None
    bound: float | None = None  # the tolerance at the worst case (fp16: that case's bound)
    seconds: float = 0.0  # in the layer (fp16: its fp32 and fp16 runs), not the reference
    failures: list[str] = field(default_factory=list)


def _native_layer(name: str, component: str) -> Layer:
    missing = native.find_toolchain().missing(component)
    return Layer(name, missing, lambda op, case, inputs, shape: native.run(op, inputs, case.attrs, component))


def _emulated_layer() -> Layer:
    missing = native.find_toolchain().missing("emulated")
    return Layer(
        "emulated", missing, lambda op, case, inputs, shape: native.run_emulated(op, inputs, case.attrs, shape)
    )


def _cuda_layer() -> Layer:
    if not torch.cuda.is_available():
        return Layer("cuda", f"no CUDA GPU (torch {torch.__version__} reports torch.cuda.is_available() == False)")
    missing = native.find_toolchain().missing("cuda")

    def run(op, case, inputs, shape):
        moved = tuple(None if t is None else t.cuda() for t in inputs)
        return native.run(op, moved, case.attrs, "cuda").cpu()

    return Layer("cuda", missing, run)


def _lifecycle_layers(trt_includes: list[str]) -> list[Layer]:
    if not trt_includes:
        return [Layer("lifecycle", "no TensorRT headers: pass --trt-include DIRS or set VFI_TRT_INCLUDE")]
    layers = []
    for include in trt_includes:
        try:
            toolchain = native.find_toolchain(trt_include_dir=include)
        except native.NativeError as error:
            layers.append(Layer(f"lifecycle {include}", str(error)))
            continue

        def run(op, case, inputs, shape, toolchain=toolchain):
            return native.run_plugin_lifecycle(op, inputs, case.attrs, shape, toolchain=toolchain)

        layers.append(Layer(f"lifecycle trt{toolchain.trt_version}", toolchain.missing("lifecycle"), run))
    return layers


def _trt_layer() -> Layer:
    if importlib.util.find_spec("tensorrt") is None:
        return Layer("trt", "TensorRT is not installed (pip install 'vfi[trt-cu12]' or 'vfi[trt-cu13]')")
    if not torch.cuda.is_available():
        return Layer("trt", "no CUDA GPU for TensorRT")
    missing = native.find_toolchain().missing("trt")
    from vfi.plugins import one_node_engines

    return Layer("trt", missing, lambda op, case, inputs, shape: one_node_engines.run(op, case, inputs, _dtype_of(inputs)))


def _dtype_of(inputs) -> torch.dtype:
    return next(t for t in inputs if t is not None).dtype


def layers(trt_includes: list[str]) -> list[Layer]:
    return [
        _native_layer("host", "host"),
        _emulated_layer(),
        _cuda_layer(),
        *_lifecycle_layers(trt_includes),
        _trt_layer(),
    ]


def check(layer: Layer, op, dtype: torch.dtype, case_filter: Callable | None = None) -> Row:
    """Every sample case of `op` through `layer` in `dtype`."""
    row = Row(op.name, layer.name, str(dtype).removeprefix("torch."), "pass")
    if layer.unavailable:
        row.status = f"unavailable: {layer.unavailable}"
        return row
    tol = op.spec.tolerance
    worst_margin = -1.0

    def timed(inputs, shape):
        started = time.perf_counter()
        output = layer.run(op, case, inputs, shape)
        row.seconds += time.perf_counter() - started
        return output

    for case in op.spec.sample_cases():
        if case_filter is not None and not case_filter(case):
            continue
        row.cases += 1
        try:
            if dtype == torch.float32:
                inputs = case.inputs(torch.float32)
                error = scaled_error(timed(inputs, op.output_shape(inputs, case.attrs)),
                                     sample_reference(op.name, case.name, torch.float32, torch.float32))
                bound = tol.fp32
            else:
                inputs16 = case.inputs(torch.float16)
                shape = op.output_shape(inputs16, case.attrs)
                exact = sample_reference(op.name, case.name, torch.float16, torch.float64)
                as_fp32 = tuple(None if t is None else t.float() for t in inputs16)
                error32 = scaled_error(timed(as_fp32, shape), exact)
                error = scaled_error(timed(inputs16, shape), exact)
                bound = tol.fp16_bound(error32)
        except (native.NativeError, ValueError, OSError) as problem:
            row.failures.append(f"{case.name}: {str(problem).splitlines()[0]}")
            continue
        if error > bound:
            row.failures.append(f"{case.name}: error {error:.3g} > {bound:.3g}")
        if error / bound > worst_margin:
            worst_margin, row.worst_error, row.bound = error / bound, error, bound
    if row.failures:
        row.status = "fail"
    return row


def format_table(rows: list[Row]) -> str:
    """The rows of the layers that ran, then one line per layer that could not, with its reason."""
    header = f"{'op':<10} {'layer':<22} {'dtype':<8} {'result':<6} {'cases':>5} {'worst error':>11} {'bound':>9} {'time':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.status.startswith("unavailable"):
            continue
        result = row.status
        error = f"{row.worst_error:>11.2e}" if row.worst_error is not None else f"{'-':>11}"
        bound = f"{row.bound:>9.2e}" if row.bound is not None else f"{'-':>9}"
        lines.append(f"{row.op:<10} {row.layer:<22} {row.dtype:<8} {result:<6} {row.cases:>5} {error} {bound} {row.seconds:>7.1f}s")
        lines += [f"    {failure}" for failure in row.failures]
    reasons = {row.layer: row.status.removeprefix("unavailable: ") for row in rows if row.status.startswith("unavailable")}
    lines += [""] + [f"{layer}: unavailable: {reason}" for layer, reason in reasons.items()]
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument(
        "--trt-include", metavar="DIRS",
        help="TensorRT include/ folders for the plugin lifecycle layer, separated by ':' (env VFI_TRT_INCLUDE)",
    )
    parser.add_argument("--op", action="append", help="limit to these ops (repeatable)")
    parser.add_argument("--layer", action="append", help="limit to layers whose name starts with this (repeatable)")


def run(args) -> int:
    includes = args.trt_include if args.trt_include is not None else os.environ.get("VFI_TRT_INCLUDE", "")
    selected = [
        layer for layer in layers([d for d in includes.split(os.pathsep) if d])
        if not args.layer or any(layer.name.startswith(prefix) for prefix in args.layer)
    ]
    rows = []
    for layer in selected:
        for op in NATIVE_OPS:
            if args.op and op.name not in args.op:
                continue
            for dtype in DTYPES:
                row = check(layer, op, dtype)
                rows.append(row)
                if not row.status.startswith("unavailable"):
                    print(f"  {op.name} {layer.name} {row.dtype}: {row.status} ({row.cases} cases, {row.seconds:.1f} s)",
                          file=sys.stderr, flush=True)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
        print(f"wrote {args.json}")
    ran = [row for row in rows if not row.status.startswith("unavailable")]
    return 0 if ran and all(row.status == "pass" for row in ran) else 1
