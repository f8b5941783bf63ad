"""The upstream-equivalence tier's shared pieces: where the official repositories are, importing an
upstream module from its own source with its CuPy kernels replaced, the seeded official-layout
weights both sides load, the Middlebury pairs and the comparison.

The official repositories are never part of this one: `VFI_UPSTREAM_DIR` names a folder that holds
their checkouts (`revisiting-sepconv/`, `sepconv-slomo/`, `AdaCoF-pytorch/`, `CDFI/`,
`softmax-splatting/`); without it every test of the tier skips with that reason."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from vfi.frames.images import read_rgb
from vfi.parity.metrics import psnr

def _model_test_helpers() -> types.ModuleType:
    # tests/models is no package (and upstream's own `models` package must keep that name free),
    # so its helpers are loaded from their file.
    path = Path(__file__).resolve().parents[1] / "models" / "checkpoint_helpers.py"
    spec = importlib.util.spec_from_file_location("vfi_test_checkpoint_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


official_manifest = _model_test_helpers().official_manifest

UPSTREAM_ENV = "VFI_UPSTREAM_DIR"
# The tier's bar (issue 12): the same weights and inputs give the same frame.
MIN_PSNR_DB = 80.0
MAX_LSB = 1
# Every Middlebury pair runs with VFI_UPSTREAM_ALL_PAIRS=1; by default the first pair of each
# native size (640x480, 584x388, 420x380), as the official repositories' inputs have no other sizes.
ALL_PAIRS = os.environ.get("VFI_UPSTREAM_ALL_PAIRS") == "1"
SEQUENCES = (
    "Beanbags", "Dimetrodon", "DogDance", "Grove2", "Grove3", "Hydrangea",
    "MiniCooper", "RubberWhale", "Urban2", "Urban3", "Venus", "Walking",
)
ONE_PER_SIZE = ("Beanbags", "Dimetrodon", "Venus")  # 640x480, 584x388, 420x380
PAIRS = SEQUENCES if ALL_PAIRS else ONE_PER_SIZE


def upstream_repo(name: str) -> Path:
    """The checkout of official repository `name`; skips the test with the reason when absent."""
    root = os.environ.get(UPSTREAM_ENV)
    if not root:
        pytest.skip(f"needs the official repositories: set {UPSTREAM_ENV} to a folder holding {name}/")
    path = Path(root) / name
    if not path.is_dir():
        pytest.skip(f"needs the official repository {name}/ in {UPSTREAM_ENV}={root}")
    return path


def upstream_commit(repo: Path) -> str:
    """The checked-out commit of `repo`, for the record; 'unknown' outside git."""
    result = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def _unreplaced_kernel(name: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"an upstream CuPy entry point was reached ({name}): replace the kernel that calls it")

    return fail


def cupy_stub() -> types.ModuleType:
    """A `cupy` that imports (decorators and dtype helpers at module level work) and fails loudly
    when a kernel would be compiled or launched, so a kernel left unreplaced cannot go unnoticed."""
    stub = types.ModuleType("cupy")
    stub.memoize = lambda *args, **kwargs: (lambda function: function)
    stub.util = types.SimpleNamespace(memoize=stub.memoize)  # older CuPy's spelling (AdaCoF, CDFI)
    stub.int32 = int
    stub.float32 = float

    def missing(attribute: str):
        return _unreplaced_kernel(f"cupy.{attribute}")

    stub.__getattr__ = missing  # module-level __getattr__ (PEP 562)
    return stub


@contextlib.contextmanager
def upstream_modules(repo: Path, *names: str) -> Iterator[list[types.ModuleType]]:
    """Import modules `names` from `repo`'s own source with `cupy` stubbed. Everything imported
    while inside is dropped from sys.modules on exit, so upstream's generic module names
    (`models`, `utility`, `cupy_module`) of one repository never shadow another's. sniklaus's
    `run.py` files parse sys.argv with getopt and switch autograd and cuDNN settings for the whole
    process at import: inside, sys.argv holds the bare script name, and both settings are restored
    on exit."""
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    saved_modules = dict(sys.modules)
    saved_grad, saved_cudnn = torch.is_grad_enabled(), torch.backends.cudnn.enabled
    sys.path.insert(0, str(repo))
    sys.argv[:] = ["run.py"]
    sys.modules["cupy"] = cupy_stub()
    try:
        yield [importlib.import_module(name) for name in names]
    finally:
        sys.path[:], sys.argv[:] = saved_path, saved_argv
        torch.set_grad_enabled(saved_grad)
        torch.backends.cudnn.enabled = saved_cudnn
        for name in set(sys.modules) - set(saved_modules):
            del sys.modules[name]
        sys.modules.update(saved_modules)


@contextlib.contextmanager
def cuda_calls_stay_on_cpu() -> Iterator[None]:
    """Upstream's inference code moves tensors and modules with `.cuda()`; on the CPU those calls
    return the object itself (nothing else of upstream's code changes)."""
    saved_tensor, saved_module = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved_tensor, saved_module


def seeded_state(manifest: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded tensors with exactly the manifest's keys and shapes. Weights are scaled by
    1/sqrt(fan-in) and biases kept small, so activations stay in the range trained networks see
    (unit normals would saturate every layer and hide differences behind clamps)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in manifest["state_dict"].items():
        tensor = torch.randn(shape, generator=generator, dtype=torch.float64)
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 0
        tensor = tensor / np.sqrt(fan_in) if fan_in else tensor * 0.01
        state[key] = tensor.float()
    return state


def middlebury_pair(data_dir: Path, sequence: str) -> tuple[torch.Tensor, torch.Tensor]:
    """frame10 and frame11 of a Middlebury sequence as float32 RGB [1,3,H,W] in [0, 1]."""
    folder = data_dir / "middlebury" / sequence
    return torch.from_numpy(read_rgb(folder / "frame10.png")), torch.from_numpy(read_rgb(folder / "frame11.png"))


def to_tensor_pair(data_dir: Path, sequence: str) -> tuple[torch.Tensor, torch.Tensor]:
    """frame10 and frame11 as the AdaCoF and CDFI scripts feed them,
    `transforms.ToTensor()(Image.open(path)).unsqueeze(0)` of 8-bit RGB images, without
    torchvision: HWC uint8 → CHW float / 255."""
    from PIL import Image

    frames = []
    for name in ("frame10.png", "frame11.png"):
        path = data_dir / "middlebury" / sequence / name
        with Image.open(path) as image:
            assert image.mode == "RGB", f"{path}: {image.mode}; ToTensor would not give 3 channels"
            pixels = np.asarray(image, dtype=np.uint8)
        frames.append(torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div(255).unsqueeze(0))
    return frames[0], frames[1]


def assert_same_frame(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> float:
    """Both [1,3,H,W] RGB outputs on [0, 1]: PSNR >= MIN_PSNR_DB after clamping and at most
    MAX_LSB after rounding to 8 bits. Returns the PSNR (printed by the caller for the record)."""
    assert ours.shape == theirs.shape, f"{what}: ours {tuple(ours.shape)} vs upstream {tuple(theirs.shape)}"
    a = ours.detach().double().clamp(0, 1).numpy()
    b = theirs.detach().double().clamp(0, 1).numpy()
    assert np.isfinite(a).all() and np.isfinite(b).all(), f"{what}: non-finite output"
    value = psnr(a, b)
    lsb = int(np.abs(np.round(a * 255) - np.round(b * 255)).max())
    print(f"{what}: {value:.2f} dB, max {lsb} LSB")
    assert value >= MIN_PSNR_DB and lsb <= MAX_LSB, f"{what}: {value:.2f} dB, max {lsb} LSB against upstream"
    return value


def official_sampler(input, weight, offset_i, offset_j, dilation):
    """`FunctionAdaCoF.forward` of `cupy_module/adacof.py` (identical in both repositories) in
    plain PyTorch, float32 as the kernel. For output pixel (i, j), channel c and tap (k, l):
    A = (int) alpha (a C cast: toward zero, so alpha - A is negative for negative alpha), the four
    corners (i + k·D + A [+1], j + l·D + B [+1]) are each clamped to the input on their own, and
    the tap adds w · (bilinear blend with the signed fractions) to a float accumulator."""
    n, channels, in_h, in_w = input.shape
    size = int(math.sqrt(weight.size(1)))
    out_h, out_w = weight.shape[2:]
    # The official forward's own checks.
    assert in_h - ((size - 1) * dilation + 1) == out_h - 1
    assert in_w - ((size - 1) * dilation + 1) == out_w - 1
    assert input.is_contiguous() and weight.is_contiguous()
    assert offset_i.is_contiguous() and offset_j.is_contiguous()

    rows = torch.arange(out_h).view(1, 1, out_h, 1)
    cols = torch.arange(out_w).view(1, 1, 1, out_w)
    flat = input.reshape(n, channels, in_h * in_w)
    output = input.new_zeros(n, channels, out_h, out_w)

    def pixel(r, c):
        index = (r * in_w + c).reshape(n, 1, out_h * out_w).expand(n, channels, out_h * out_w)
        return flat.gather(2, index).view(n, channels, out_h, out_w)

    for k in range(size):
        for l in range(size):
            m = k * size + l
            w = weight[:, m : m + 1]
            alpha, beta = offset_i[:, m : m + 1], offset_j[:, m : m + 1]
            whole_a, whole_b = alpha.trunc(), beta.trunc()
            a, b = alpha - whole_a, beta - whole_b
            r0 = rows + k * dilation + whole_a.long()
            c0 = cols + l * dilation + whole_b.long()
            r1, c1 = r0 + 1, c0 + 1
            r0, r1 = r0.clamp(0, in_h - 1), r1.clamp(0, in_h - 1)
            c0, c1 = c0.clamp(0, in_w - 1), c1.clamp(0, in_w - 1)
            output += w * (
                pixel(r0, c0) * (1 - a) * (1 - b)
                + pixel(r1, c0) * a * (1 - b)
                + pixel(r0, c1) * (1 - a) * b
                + pixel(r1, c1) * a * b
            )
    return output
