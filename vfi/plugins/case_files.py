"""Op invocations as case files (emulation/case_file.h), for the native test drivers that run
outside Python: the emulated CUDA kernels under sanitizers (`vfi_cuda_emulated`) and the TensorRT
plugin lifecycle driver. A driver reads the case, runs it and writes the output file; this module
writes the cases, runs a driver on them and reads the outputs back.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DTYPES = {"float32": ("f32", np.float32), "float16": ("f16", np.float16)}
_ATTR_KINDS = {str: "s", float: "f", int: "i"}


class DriverError(RuntimeError):
    """A driver crashed, a sanitizer reported an error, or the driver could not run a case."""


@dataclass(frozen=True)
class Tensor:
    """An input: its NCHW shape and its data, or shape only (no data: the driver passes nullptr)."""

    shape: tuple[int, int, int, int]
    data: np.ndarray | None = None


@dataclass(frozen=True)
class Result:
    output: np.ndarray | None  # None when the op refused its arguments
    error: str | None  # the op's message when it refused them


def write_case(folder: Path, name: str, op, inputs: list, attrs: dict, output_shape, dtype: str,
               output_data: bool = True) -> Path:
    """Writes `name`.case and its input files into `folder`; inputs in spec order, each None
    (absent), a Tensor, or an array. Without `output_data` the output has no buffer either (a
    case that must be refused before any memory is touched)."""
    code, _ = _DTYPES[dtype]
    lines = [f"op {op.name}", f"dtype {code}"]
    for attr in op.spec.attrs:
        value = attr.kind(attrs.get(attr.name, attr.default))
        text = repr(float(value)) if attr.kind is float else str(value)
        if not text or any(ch.isspace() for ch in text):
            raise ValueError(f"{op.name}: attribute {attr.name}={value!r} cannot be written to a case file")
        lines.append(f"attr {attr.name} {_ATTR_KINDS[attr.kind]} {text}")
    for spec, given in zip(op.spec.inputs, inputs):
        if given is None:
            lines.append(f"input {spec.name} absent")
            continue
        tensor = given if isinstance(given, Tensor) else Tensor(tuple(given.shape), given)
        file = "none"
        if tensor.data is not None:
            file = f"{name}.{spec.name}.bin"
            np.ascontiguousarray(tensor.data, dtype=_DTYPES[dtype][1]).tofile(folder / file)
        lines.append(f"input {spec.name} {' '.join(map(str, tensor.shape))} {file}")
    lines.append(f"output {' '.join(map(str, output_shape))} {f'{name}.output.bin' if output_data else 'none'}")
    path = folder / f"{name}.case"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_driver(command: list[str], cases: list[Path], output_shapes: list, dtype: str, timeout: float = 600,
               output_data: bool = True) -> list[Result]:
    """Runs `command CASE...` and returns each case's result, in order."""
    try:
        done = subprocess.run([*command, *map(str, cases)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DriverError(f"{Path(command[0]).name} did not finish within {timeout:.0f} s (a deadlock?)") from None
    if done.returncode != 0:
        raise DriverError(
            f"{Path(command[0]).name} failed with status {done.returncode}:\n{done.stderr[-6000:]}{done.stdout[-2000:]}"
        )
    lines = {}
    for line in done.stdout.splitlines():
        path, status, *message = line.split("\t")
        lines[path] = (status, message[0] if message else None)
    results = []
    for case, shape in zip(cases, output_shapes):
        if str(case) not in lines:
            raise DriverError(f"{Path(command[0]).name} printed no result for {case}:\n{done.stdout[-2000:]}")
        status, message = lines[str(case)]
        if status == "ok" and not output_data:
            raise DriverError(f"{case}: ran without an output buffer")
        if status == "ok":
            data = np.fromfile(case.with_name(case.name.removesuffix(".case") + ".output.bin"), dtype=_DTYPES[dtype][1])
            results.append(Result(data.reshape(shape), None))
        else:
            results.append(Result(None, message))
    return results


def run_cases(command: list[str], op, calls: list[tuple[list, dict, tuple]], dtype: str, timeout: float = 600,
              output_data: bool = True) -> list[Result]:
    """Runs the driver once on every (inputs, attrs, output_shape) of `calls`."""
    with tempfile.TemporaryDirectory(prefix="vfi-cases-") as folder:
        cases = [
            write_case(Path(folder), f"case{i}", op, inputs, attrs, shape, dtype, output_data)
            for i, (inputs, attrs, shape) in enumerate(calls)
        ]
        return run_driver(command, cases, [shape for _, _, shape in calls], dtype, timeout, output_data)
