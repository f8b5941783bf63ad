"""cdfi_net against the official CDFI (tding1/CDFI, models/cdfi_adacof.py, class CDFI_adacof).

Upstream's network runs from its own source with the same seeded weights saved in the official
layout ({'state_dict': …}, as checkpoints/CDFI_adacof.pth). Only the CuPy kernel is replaced:
`FunctionAdaCoF.apply` (cupy_module/adacof.py, kernel_AdaCoF_updateOutput), the model's only CuPy
use, becomes `upstream_helpers.official_sampler`, written from that kernel's arithmetic, not vfi's op. The
pruned U-Net, the feature pyramid, the resizes, the replicate pad, GridNet, the occlusion and
path-selection blends, the ×32 reflect padding and the crop all stay upstream's.

Inputs as interpolate_twoframe.py (the official two-frame inference) makes them:
transforms.ToTensor() of the PIL images, i.e. RGB, uint8 / 255, [1,3,H,W] in [0, 1], no padding
outside the model (CDFI_adacof.forward pads and crops itself), model.eval(), torch.no_grad().
torchvision is not needed for that: ToTensor of an 8-bit RGB PIL image is exactly
`middlebury_pair`'s read (checked below on the pixels).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest
import torch

import vfi.models

from upstream_helpers import (
    PAIRS,
    assert_same_frame,
    middlebury_pair,
    official_manifest,
    official_sampler,
    to_tensor_pair,
    seeded_state,
    upstream_commit,
    upstream_modules,
    upstream_repo,
)

pytestmark = [pytest.mark.data, pytest.mark.slow]

def test_official_sampler_follows_the_kernel_on_a_hand_worked_case():
    """Truncation toward zero (a negative fraction extrapolates, it does not step back a pixel),
    per-corner clamping and dilation, on F = 2, D = 3: the replacement itself is checked."""
    image = torch.arange(1 * 1 * 5 * 5, dtype=torch.float32).view(1, 1, 5, 5)  # value = 5·row + col
    weight = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 4, 1, 1).repeat(1, 1, 2, 2)
    alpha = torch.full((1, 4, 2, 2), -0.25)  # A = 0, fa = −0.25: rows i and i + 1 with 1.25 / −0.25
    beta = torch.full((1, 4, 2, 2), 0.5)
    out = official_sampler(image, weight, alpha, beta, 3)
    expected = torch.tensor([[5 * (i - 0.25) + (j + 0.5) for j in range(2)] for i in range(2)])
    assert torch.allclose(out[0, 0], expected)
    # Tap (1, 1) at pixel (1, 1) sits at (4, 4), the corner: the +1 corners clamp to 4 on their own.
    weight = torch.tensor([0.0, 0.0, 0.0, 1.0]).view(1, 4, 1, 1).repeat(1, 1, 2, 2)
    alpha = beta = torch.full((1, 4, 2, 2), 0.5)
    assert out.new_tensor(24.0) == official_sampler(image, weight, alpha, beta, 3)[0, 0, 1, 1]


def save_official(state: dict[str, torch.Tensor], path: Path) -> Path:
    """`state` in the official layout, as checkpoints/CDFI_adacof.pth holds it."""
    torch.save({"state_dict": state}, path)
    return path


def sharpened(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The seeded state with each head's last conv scaled up. With the plain seeded tensors the
    offsets stay within ±0.06 px, the kernels near uniform and both masks near 0.5, which leaves
    the sampler's integer part (trunc, clamping of far taps) and the blends barely exercised;
    here offsets reach about ±6 px (both signs), the softmax kernels are far from uniform and the
    masks move well off 0.5 (the test prints the ranges)."""
    scale = {"Alpha": 100.0, "Beta": 100.0, "Weight": 100.0, "Occlusion": 100.0, "Blend": 100.0}
    state = dict(state)
    for key in state:
        for head, factor in scale.items():
            if key.startswith(f"get_kernel.module{head}") and key.split(".")[2] == "7":
                state[key] = state[key] * factor
    return state


def build_upstream(repo: Path, weights: Path) -> torch.nn.Module:
    """CDFI_adacof built as interpolate_twoframe.py builds it (its argparse defaults: kernel_size 11,
    dilation 2), loaded with `load_state_dict(checkpoint['state_dict'])` (strict), in eval mode.
    The script's `.cuda()` calls are left out: the model and frames stay on the CPU."""
    with upstream_modules(repo):
        import cupy_module.adacof as adacof
        from models.cdfi_adacof import CDFI_adacof

        args = argparse.Namespace(gpu_id=0, checkpoint=str(weights), kernel_size=11, dilation=2)
        model = CDFI_adacof(args)
        checkpoint = torch.load(args.checkpoint, weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
        # The one CuPy entry point: replace it, and nothing else.
        assert model.moduleAdaCoF == adacof.FunctionAdaCoF.apply
        model.moduleAdaCoF = official_sampler
        model.eval()
    return model


@pytest.fixture(scope="module")
def repo() -> Path:
    return upstream_repo("CDFI")


@pytest.fixture(scope="module")
def weights(repo, tmp_path_factory) -> Path:
    """The seeded tensors in the official layout: the file both sides load."""
    state = seeded_state(official_manifest("cdfi_net"))
    return save_official(state, tmp_path_factory.mktemp("cdfi") / "CDFI_adacof.pth")


@pytest.fixture(scope="module")
def upstream_model(repo, weights):
    return build_upstream(repo, weights)


@pytest.fixture(scope="module")
def our_model(weights):
    return vfi.models.load("cdfi_net", weights=weights)


def test_seeded_weights_are_what_both_sides_hold(upstream_model, our_model, weights):
    state = torch.load(weights, weights_only=True)["state_dict"]
    theirs, ours = upstream_model.state_dict(), our_model.state_dict()
    assert set(theirs) == set(ours) == set(state)
    for key, value in state.items():
        assert torch.equal(theirs[key], value) and torch.equal(ours[key], value), key


def compare(sequence: str, repo: Path, data_dir: Path, upstream_model, our_model, what: str) -> None:
    frame0, frame1 = to_tensor_pair(data_dir, sequence)
    ours0, ours1 = middlebury_pair(data_dir, sequence)
    assert torch.equal(ours0, frame0) and torch.equal(ours1, frame1), "ToTensor and read_rgb disagree"

    start = time.perf_counter()
    with torch.no_grad():
        theirs = upstream_model(frame0, frame1)
    upstream_s = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        ours = our_model(ours0, ours1)
    ours_s = time.perf_counter() - start
    print(f"\nCDFI @ {upstream_commit(repo)[:12]}, {sequence} {tuple(frame0.shape[2:])}, {what}: "
          f"upstream {upstream_s:.0f} s, ours {ours_s:.0f} s")
    assert_same_frame(ours, theirs, f"cdfi_net vs upstream CDFI_adacof, {sequence}, {what}")


@pytest.mark.parametrize("sequence", PAIRS)
def test_cdfi_net_matches_upstream_on_middlebury(sequence, repo, data_dir, upstream_model, our_model):
    compare(sequence, repo, data_dir, upstream_model, our_model, "seeded weights")


def test_cdfi_net_matches_upstream_with_large_offsets(repo, data_dir, tmp_path):
    """One pair (the smallest size) with `sharpened` weights: offsets of several pixels, uneven
    kernels, masks off 0.5."""
    path = save_official(sharpened(seeded_state(official_manifest("cdfi_net"))), tmp_path / "CDFI_adacof.pth")
    upstream_model, our_model = build_upstream(repo, path), vfi.models.load("cdfi_net", weights=path)
    heads = {}
    handle = our_model.get_kernel.register_forward_hook(lambda module, args, output: heads.update(output[0]))
    try:
        compare("Venus", repo, data_dir, upstream_model, our_model, "sharpened heads")
    finally:
        handle.remove()
    offsets = torch.cat([heads[name] for name in ("Alpha1", "Beta1", "Alpha2", "Beta2")])
    print(f"offsets {offsets.min():.1f} … {offsets.max():.1f} px, largest kernel weight "
          f"{max(heads['Weight1'].max(), heads['Weight2'].max()):.2f}, occlusion "
          f"{heads['Occlusion'].min():.2f} … {heads['Occlusion'].max():.2f}, blend "
          f"{heads['Blend'].min():.2f} … {heads['Blend'].max():.2f}")
    assert offsets.min() < -2 and offsets.max() > 2, "the sharpened offsets do not reach past a pixel"
