"""The data that describes a custom op: identity, I/O contract, attributes, tolerances, cases.

Every layer (reference, torch op, ONNX node and function body, kernels, TensorRT plugin) and
every registry-generated test reads its facts from an `OpSpec`; nothing here computes the op.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

NAMESPACE = "vfi"  # torch library namespace, ONNX domain and TensorRT plugin namespace
PLUGIN_VERSION = "1"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: str  # symbolic, e.g. "N,C,H,W"; documentation and error messages
    optional: bool = False
    differentiable: bool = True


@dataclass(frozen=True)
class AttrSpec:
    name: str  # identical in the Python API, the ONNX node and the TensorRT creator fields
    kind: type  # str, float or int
    default: Any
    choices: tuple = ()
    doc: str = ""


@dataclass(frozen=True)
class Tolerance:
    """Allowed error of an implementation against the reference.

    fp32: max abs error for outputs of magnitude <= 1 (inputs in [0, 1]); for larger outputs the
    bound scales with max(1, |reference|), because an fp32 ulp grows with the magnitude and sums
    in a different order differ by a few ulps.
    fp16: error vs an fp64 reference <= fp16_factor * (fp32 path's error) + fp16_floor.
    """

    fp32: float = 1e-5
    fp16_factor: float = 2.0
    fp16_floor: float = 1e-3

    def fp16_bound(self, fp32_error: float) -> float:
        """The allowed fp16 error, given the same implementation's fp32 error on the same inputs."""
        return self.fp16_factor * fp32_error + self.fp16_floor


@dataclass(frozen=True)
class SampleCase:
    """A named input set. `make` builds the inputs (ordered as the spec's inputs, None for an
    absent optional one) from a seeded generator, so collecting cases costs nothing."""

    name: str
    make: Callable[[torch.Generator], tuple]
    attrs: dict = field(default_factory=dict)
    # False for a case that only moves a native launcher across a size threshold: its semantics
    # are the other cases', and torch.library.opcheck's cost grows with the kernel size.
    opcheck: bool = True

    def inputs(self, dtype: torch.dtype = torch.float32) -> tuple:
        generator = torch.Generator().manual_seed(_stable_seed(self.name))
        return tuple(None if t is None else t.to(dtype) for t in self.make(generator))


@dataclass(frozen=True)
class WorkedExample:
    """Inputs and the exact expected output from reference/UPSTREAM.md."""

    name: str
    inputs: tuple
    attrs: dict
    expected: torch.Tensor


@dataclass(frozen=True)
class InvalidCase:
    """Arguments the public function must reject with ValueError matching `message` (regex)."""

    name: str
    inputs: tuple
    attrs: dict
    message: str


@dataclass(frozen=True)
class OpSpec:
    name: str  # upstream vocabulary: softsplat, sepconv, adacof
    onnx_op_type: str  # also the TensorRT plugin name
    inputs: tuple[TensorSpec, ...]
    output: TensorSpec
    attrs: tuple[AttrSpec, ...]
    dtypes: tuple[torch.dtype, ...]
    tolerance: Tolerance
    sample_cases: Callable[[], Sequence[SampleCase]]
    gradcheck_case: Callable[[], SampleCase]  # small, float64-friendly
    worked_examples: Callable[[], Sequence[WorkedExample]]
    invalid_cases: Callable[[], Sequence[InvalidCase]]
    # Cases `vfi bench ops` times at a given output size (height, width).
    benchmark_cases: Callable[[int, int], Sequence[SampleCase]] = lambda height, width: ()
    summary: str = ""

    @property
    def torch_name(self) -> str:
        return f"{NAMESPACE}::{self.name}"

    @property
    def onnx_domain(self) -> str:
        return NAMESPACE

    @property
    def plugin_name(self) -> str:
        return self.onnx_op_type

    @property
    def plugin_namespace(self) -> str:
        return NAMESPACE

    @property
    def plugin_version(self) -> str:
        return PLUGIN_VERSION

    def default_attrs(self) -> dict:
        return {a.name: a.default for a in self.attrs}


def scaled_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max(1, |expected|): the absolute error for outputs in [-1, 1],
    relative beyond (see Tolerance); infinity where the output is not finite, 0 for empty tensors."""
    if actual.shape != expected.shape:
        raise ValueError(f"output shape {list(actual.shape)} differs from the reference's {list(expected.shape)}")
    if not torch.isfinite(expected).all():
        raise ValueError("the reference produced a non-finite value")
    if actual.numel() == 0:
        return 0.0
    if not torch.isfinite(actual).all():
        return math.inf
    diff = (actual.double() - expected.double()).abs()
    return float((diff / expected.double().abs().clamp(min=1.0)).max())


def _stable_seed(name: str) -> int:
    # Python's hash() is salted per process; crc32 keeps cases identical across runs.
    return zlib.crc32(name.encode())
