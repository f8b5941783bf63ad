"""The `__global__` CUDA kernels themselves, run on the CPU: the ops' .cu files compiled as C++
against the emulation of vfi/plugins/emulation (one OS thread per CUDA thread, a real barrier per
block, shared memory sized exactly, NaN-filled outputs and shared memory), with AddressSanitizer
and UndefinedBehaviorSanitizer, through the launchers' own launch configurations. Generated from
the registry like test_native_kernels.py; needs the CUDA toolkit's headers, not a GPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import torch
from test_ops import NATIVE_SAMPLE_CASES

from vfi.plugins import NATIVE_OPS, case_files, get_op, native, sample_reference
from vfi.plugins.spec import scaled_error

# The serial schedule (one thread at a time, highest first, switching at barriers) is what makes
# a missing __syncthreads deterministic; it costs a context switch per thread and phase, so it
# runs on the cases of at most this many output pixels (the large ones run concurrently).
SMALL_PIXEL_LIMIT = 20_000
# The large cases (grids of hundreds to thousands of blocks) run in fp32; in fp16 too with
# VFI_EMULATED_ALL=1. Their indexing and launch configurations do not depend on the dtype, and
# their fp16 runs (an fp32 and an fp16 run each) cost about 3 of the tier's 5 minutes.
ALL_DTYPES_FOR_LARGE = os.environ.get("VFI_EMULATED_ALL") == "1"


def _require_emulation():
    missing = native.find_toolchain().missing("emulated")
    if missing:
        pytest.skip(f"the emulated kernels cannot be built here: {missing}")


def _is_small(op, case) -> bool:
    n, _, h, w = op.output_shape(case.inputs(), case.attrs)
    return n * h * w <= SMALL_PIXEL_LIMIT


def _schedules(case_params, include_large: bool = True):
    params = []
    for param in case_params:
        op, case = param.values
        small = _is_small(op, case)
        if small or include_large:
            params.append(pytest.param(op, case, "concurrent", id=f"{param.id}-concurrent"))
        if small:
            params.append(pytest.param(op, case, "serial", id=f"{param.id}-serial"))
    return params


CASES_AND_SCHEDULES = _schedules(NATIVE_SAMPLE_CASES)
FP16_CASES_AND_SCHEDULES = _schedules(NATIVE_SAMPLE_CASES, include_large=ALL_DTYPES_FOR_LARGE)


def _emulated(op, inputs, attrs, schedule):
    _require_emulation()
    return native.run_emulated(op, inputs, attrs, op.output_shape(inputs, attrs), schedule)


@pytest.mark.parametrize("op,case,schedule", CASES_AND_SCHEDULES)
def test_fp32_emulated_kernel_matchessample_reference(op, case, schedule):
    inputs = case.inputs(torch.float32)
    actual = _emulated(op, inputs, case.attrs, schedule)
    assert scaled_error(actual, sample_reference(op.name, case.name, torch.float32, torch.float32)) <= op.spec.tolerance.fp32
    if op.name != "softsplat":
        # Without atomics the kernels add in the CPU harness's order: the same bits.
        assert torch.equal(actual, native.run(op, inputs, case.attrs, "host"))


@pytest.mark.parametrize("op,case,schedule", FP16_CASES_AND_SCHEDULES)
def test_fp16_emulated_kernel_error_is_bounded_by_fp32_error(op, case, schedule):
    exact = sample_reference(op.name, case.name, torch.float16, torch.float64)
    inputs16 = case.inputs(torch.float16)
    error32 = scaled_error(_emulated(op, tuple(None if t is None else t.float() for t in inputs16), case.attrs, schedule), exact)
    actual16 = _emulated(op, inputs16, case.attrs, schedule)
    assert actual16.dtype == torch.float16
    tol = op.spec.tolerance
    assert scaled_error(actual16, exact) <= tol.fp16_bound(error32)


def _emptied(inputs, dim):
    """The first case's inputs with batch (dim 0) or the first input's channels (dim 1) cut to 0."""
    if dim == 0:
        return tuple(None if t is None else t[:0] for t in inputs)
    return (inputs[0][:, :0], *inputs[1:])


@pytest.mark.parametrize("dim", [pytest.param(0, id="batch0"), pytest.param(1, id="channels0")])
@pytest.mark.parametrize("component", ["host", "emulated", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in NATIVE_OPS])
def test_zero_size_tensors_give_the_empty_output(op, component, dim):
    case = op.spec.sample_cases()[0]
    inputs = _emptied(case.inputs(), dim)
    expected = op.reference(*inputs, **case.attrs)
    assert expected.numel() == 0
    if component == "emulated":
        actual = _emulated(op, inputs, case.attrs, "concurrent")
    else:
        missing = native.find_toolchain().missing(component)
        if missing:
            pytest.skip(f"the {component} library cannot be built here: {missing}")
        device = "cuda" if component == "cuda" else "cpu"
        actual = native.run(op, tuple(None if t is None else t.to(device) for t in inputs), case.attrs, component).cpu()
    assert actual.shape == expected.shape


# Per op: (attrs, input shapes, output shape) of the largest problem the 32-bit offsets allow, and
# the size change that makes it one element too many, with the message the check must give. The
# tensors carry no data (the driver passes null pointers): the shape check comes first, so the
# largest problem gets past it and fails only at the null pointers, "invalid argument".
_H, _W = 2160, 3840  # 4K
BOUNDARIES = {
    # input [N,C,H+K-1,W+K-1] with K = 3: C*(H+2)*(W+2) is just below 2^31 for C = 258.
    "sepconv": (
        {},
        lambda c: [(1, c, _H + 2, _W + 2), (1, 3, _H, _W), (1, 3, _H, _W)],
        lambda c: (1, c, _H, _W),
        258,
        259,
        "sepconv: input must have shape",
    ),
    # With C = 1 the flow [N,2,H,W] is the largest tensor: N*2*H*W crosses 2^31 at N = 130.
    "softsplat": (
        {"mode": "sum", "eps": 1e-7},
        lambda n: [(n, 1, _H, _W), (n, 2, _H, _W), None],
        lambda n: (n, 1, _H, _W),
        129,
        130,
        "softsplat: flow",
    ),
    # The maps [N,F*F,H,W] with F = 5: 25*H*W*N crosses 2^31 at N = 11.
    "adacof": (
        {"dilation": 1},
        lambda n: [(n, 3, _H + 4, _W + 4), (n, 25, _H, _W), (n, 25, _H, _W), (n, 25, _H, _W)],
        lambda n: (n, 3, _H, _W),
        10,
        11,
        "adacof: weight must have shape",
    ),
}


def test_every_op_has_an_offset_boundary_case():
    assert set(BOUNDARIES) == {op.name for op in NATIVE_OPS}


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in NATIVE_OPS])
def test_the_shape_check_refuses_exactly_the_problems_past_32_bit_offsets(op):
    _require_emulation()
    attrs, input_shapes, output_shape, fits, too_many, message = BOUNDARIES[op.name]
    calls = []
    for size in (fits, too_many):
        inputs = [None if s is None else case_files.Tensor(s) for s in input_shapes(size)]
        calls.append((inputs, attrs, output_shape(size)))
    command = [str(native.library_path("emulated")), "--schedule", "concurrent"]
    largest, beyond = case_files.run_cases(command, op, calls, "float32", output_data=False)
    assert largest.error is not None and largest.error.endswith("invalid argument"), largest.error
    assert beyond.error is not None and beyond.error.startswith(message), beyond.error


def _mutated_runner(tmp_path, op: str, edit) -> str:
    """vfi_cuda_emulated built from a copy of the native sources with `edit` applied to the op's
    kernel source."""
    sources = tmp_path / "plugins"
    shutil.copytree(native.PLUGINS_DIR, sources, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.md"))
    kernel = sources / op / "csrc" / f"{op}_kernel.cu"
    kernel.write_text(edit(kernel.read_text()))
    build = tmp_path / "build"
    subprocess.run(
        ["cmake", "-S", str(sources), "-B", str(build), "-DVFI_BUILD_CUDA=OFF", "-DVFI_BUILD_TRT=OFF"],
        check=True, capture_output=True,
    )
    subprocess.run(["cmake", "--build", str(build), "--target", "vfi_cuda_emulated", "--parallel", "2"], check=True, capture_output=True)
    return str(build / "bin" / "vfi_cuda_emulated")


def _drop_barrier(index: int):
    def edit(text: str) -> str:
        parts = text.split("__syncthreads();")
        assert len(parts) == 3, "the sepconv tile has two barriers per channel"
        return "__syncthreads();".join(parts[: index + 1]) + ";" + "__syncthreads();".join(parts[index + 1 :])

    return edit


@pytest.mark.parametrize("barrier", [pytest.param(0, id="before_loading"), pytest.param(1, id="after_loading")])
def test_the_emulation_catches_a_missing_barrier_in_the_sepconv_tile(tmp_path, barrier):
    """Deleting either __syncthreads of the tiled kernel breaks the output under the serial
    schedule: the emulation would catch a barrier bug that the CPU harness cannot see."""
    _require_emulation()
    op = get_op("sepconv")
    case = next(c for c in op.spec.sample_cases() if c.name == "batch2_k5_c3")
    inputs = case.inputs()
    shape = op.output_shape(inputs, case.attrs)
    runner = _mutated_runner(tmp_path, "sepconv", _drop_barrier(barrier))
    (result,) = case_files.run_cases([runner, "--schedule", "serial"], op, [([t.numpy() for t in inputs], {}, shape)], "float32")
    expected = op.reference(*inputs)
    assert result.error is None
    assert scaled_error(torch.from_numpy(result.output), expected) > op.spec.tolerance.fp32
