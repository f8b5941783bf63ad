"""The kernel arithmetic against the reference, generated from the registry: the CPU harness
(the __host__ __device__ functions compiled with the host compiler) on every machine, the CUDA
kernels where a GPU exists. A new op with native code (vfi.plugins.NATIVE_OPS) is tested here without
new test code.
"""

from __future__ import annotations


import pytest
import torch
from test_ops import NATIVE_SAMPLE_CASES, NATIVE_WORKED_EXAMPLES, scaled_error

from vfi.plugins import NATIVE_OPS, native, sample_reference

COMPONENTS = [
    pytest.param("host", id="host"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.gpu),
]


def _device(component: str) -> str:
    return "cuda" if component == "cuda" else "cpu"


def _run(op, inputs, attrs, component):
    missing = native.find_toolchain().missing(component)
    if missing:
        pytest.skip(f"the {component} library cannot be built here: {missing}")
    moved = tuple(None if t is None else t.to(_device(component)) for t in inputs)
    return native.run(op, moved, attrs, component).cpu()


@pytest.mark.parametrize("op,case", NATIVE_SAMPLE_CASES)
@pytest.mark.parametrize("component", COMPONENTS)
def test_fp32_kernel_matchessample_reference(component, op, case):
    expected = sample_reference(op.name, case.name, torch.float32, torch.float32)
    actual = _run(op, case.inputs(torch.float32), case.attrs, component)
    assert actual.dtype == torch.float32
    assert scaled_error(actual, expected) <= op.spec.tolerance.fp32


@pytest.mark.parametrize("op,case", NATIVE_SAMPLE_CASES)
@pytest.mark.parametrize("component", COMPONENTS)
def test_fp16_kernel_error_is_bounded_by_fp32_error(component, op, case):
    """OPS.md: the fp16 kernel's error vs an fp64 reference is at most a small multiple of the fp32
    kernel's error plus a floor; both see the same fp16-representable inputs."""
    exact = sample_reference(op.name, case.name, torch.float16, torch.float64)
    inputs16 = case.inputs(torch.float16)
    error32 = scaled_error(_run(op, tuple(None if t is None else t.float() for t in inputs16), case.attrs, component), exact)
    actual16 = _run(op, inputs16, case.attrs, component)
    assert actual16.dtype == torch.float16
    tol = op.spec.tolerance
    assert scaled_error(actual16, exact) <= tol.fp16_bound(error32)


@pytest.mark.parametrize("op,example", NATIVE_WORKED_EXAMPLES)
@pytest.mark.parametrize("component", COMPONENTS)
def test_kernel_reproduces_worked_example(component, op, example):
    actual = _run(op, example.inputs, example.attrs, component)
    # The upstream values are printed to 6-7 significant digits.
    assert scaled_error(actual, example.expected) <= 1e-6


def _first_case(op):
    case = op.spec.sample_cases()[0]
    return case.inputs(torch.float32), case.attrs


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in NATIVE_OPS])
def test_host_harness_rejects_inconsistent_sizes_with_a_message(op):
    """The C ABI checks the shapes it is given; here the output has one row too many."""
    inputs, attrs = _first_case(op)
    n, c, h, w = op.reference(*inputs, **attrs).shape
    with pytest.raises(native.NativeError, match=f"{op.name}: output must have shape"):
        native.call(op, "host", inputs, torch.empty(n, c, h + 1, w), attrs)


@pytest.mark.parametrize(
    "op,attr",
    [pytest.param(op, a, id=f"{op.name}-{a.name}") for op in NATIVE_OPS for a in op.spec.attrs if a.choices and a.kind is str],
)
def test_host_harness_rejects_a_value_outside_the_choices(op, attr):
    inputs, attrs = _first_case(op)
    output = torch.empty(op.reference(*inputs, **attrs).shape)
    with pytest.raises(native.NativeError, match=f"{op.name}: {attr.name} must be one of"):
        native.call(op, "host", inputs, output, {**attrs, attr.name: "not-a-choice"})


def test_run_refuses_other_dtypes():
    op = NATIVE_OPS[0]
    inputs, attrs = _first_case(op)
    with pytest.raises(native.NativeError, match="float32 or float16"):
        native.run(op, tuple(None if t is None else t.double() for t in inputs), attrs)
