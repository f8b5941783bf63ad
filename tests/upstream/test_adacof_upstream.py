"""AdaCoF and CDFI's compressed AdaCoF against the official code (issue 12).

`adacof_net` / `adacof_net_f11d2` against HyeongminLEE/AdaCoF-pytorch `models/adacofnet.py`, and
`compressed_adacof_net` / `compressed_adacof_net_f11d2` against tding1/CDFI
`models/compressed_adacof.py`. Each upstream network is imported from its own source and built,
loaded and fed as its official inference script does (AdaCoF `interpolate_twoframe.py` /
`TestModule.py`: `models.Model(args)`, the checkpoint's `['state_dict']`, `model.load(...)`; CDFI
`mytest.py`: `make_model(args).cuda()`, `model.load_state_dict(checkpoint['state_dict'])`; both
feed `transforms.ToTensor()` of the PIL image, i.e. RGB in [0, 1], and pad/crop inside `forward`).
Only the CuPy sampler `cupy_module.adacof.FunctionAdaCoF` is replaced, by `official_sampler`
below, written from the CUDA source `kernel_AdaCoF_updateOutput` (not vfi's op, so the check is
independent). Both sides load the same seeded tensors saved in the official layout."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
import torch

import vfi.models
from upstream_helpers import (
    PAIRS,
    assert_same_frame,
    cuda_calls_stay_on_cpu,
    middlebury_pair,
    official_manifest,
    official_sampler,
    to_tensor_pair,
    seeded_state,
    upstream_commit,
    upstream_modules,
    upstream_repo,
)

# name -> (repository, official model name as its scripts spell `--model`, F, D)
CASES = {
    "adacof_net": ("AdaCoF-pytorch", "adacofnet", 5, 1),
    "adacof_net_f11d2": ("AdaCoF-pytorch", "adacofnet", 11, 2),
    "compressed_adacof_net": ("CDFI", "compressed_adacof", 5, 1),
    "compressed_adacof_net_f11d2": ("CDFI", "compressed_adacof", 11, 2),
}


def test_official_sampler_takes_trunc_and_clamps_each_corner():
    """The test's sampler itself, on numbers worked by hand from the CUDA source: a 1×1 kernel
    on a 1×4 row [0, 10, 20, 40]."""
    row = torch.tensor([0.0, 10.0, 20.0, 40.0]).view(1, 1, 1, 4)
    one = torch.ones(1, 1, 1, 4)
    zero = torch.zeros(1, 1, 1, 4)

    def sample(beta):
        return official_sampler(row, one, zero, torch.full((1, 1, 1, 4), beta), 1).flatten().tolist()

    # beta = 0.5: B = 0, b = 0.5; the last pixel's right corner is clamped to itself.
    assert sample(0.5) == [5.0, 15.0, 30.0, 40.0]
    # beta = -0.5: B = 0 (toward zero), b = -0.5, so 1.5·x[j] - 0.5·x[j+1] (extrapolation, not
    # the floor-based blend of x[j-1] and x[j]).
    assert sample(-0.5) == [-5.0, 5.0, 10.0, 40.0]
    # beta = -1.5: B = -1, b = -0.5: 1.5·x[j-1] - 0.5·x[j], x[j-1] clamped to x[0] at j = 0.
    assert sample(-1.5) == [0.0, -5.0, 5.0, 10.0]


class ReplacedAdaCoF:
    """Stands in for `cupy_module.adacof.FunctionAdaCoF`: `.apply` is `official_sampler`; it
    counts calls and records the offsets' range for the record."""

    def __init__(self):
        self.calls = 0
        self.offset_range = [math.inf, -math.inf]

    def apply(self, input, weight, offset_i, offset_j, dilation):
        self.calls += 1
        offsets = torch.cat([offset_i, offset_j])
        low, high = self.offset_range
        self.offset_range = [min(low, offsets.min().item()), max(high, offsets.max().item())]
        return official_sampler(input, weight, offset_i, offset_j, dilation)


def upstream_model(name: str, repo: Path, checkpoint: Path, replaced: ReplacedAdaCoF) -> torch.nn.Module:
    _, model_name, size, dilation = CASES[name]
    args = argparse.Namespace(gpu_id=0, model=model_name, kernel_size=size, dilation=dilation)
    # Both scripts load the checkpoint file, then its ['state_dict'] strictly.
    state = torch.load(checkpoint, map_location=torch.device("cpu"), weights_only=True)["state_dict"]
    with upstream_modules(repo, "models", "cupy_module.adacof") as (models, adacof), cuda_calls_stay_on_cpu():
        adacof.FunctionAdaCoF = replaced
        if repo.name == "AdaCoF-pytorch":
            # interpolate_twoframe.py / train.py: models.Model(args); model.load(ckpt['state_dict']).
            model = models.Model(args)
            model.load(state)
            network = model.model
        else:
            # mytest.py: make_model(args).cuda(); model.load_state_dict(ckpt['state_dict']).
            model = models.make_model(args).cuda()
            model.load_state_dict(state)
            network = model
    assert network.moduleAdaCoF == replaced.apply, "upstream does not call the replaced sampler"
    assert (network.kernel_size, network.dilation) == (size, dilation)
    model.eval()
    return model


def large_offsets(state: dict[str, torch.Tensor], seed: int = 1) -> dict[str, torch.Tensor]:
    """`state` with the offset heads' last conv (`moduleAlpha*.7`, `moduleBeta*.7`) scaled by 30
    and its biases drawn from U(-4, 4): offsets of several pixels that vary over the image, so
    whole-pixel parts, negative fractions and the border clamps all take part (the seeded
    weights alone give offsets under 0.15)."""
    generator = torch.Generator().manual_seed(seed)
    state = dict(state)
    for key in state:
        if key.split(".")[1].startswith(("moduleAlpha", "moduleBeta")) and ".7." in key:
            if key.endswith("weight"):
                state[key] = state[key] * 30
            else:
                state[key] = torch.rand(state[key].shape, generator=generator) * 8 - 4
    return state


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """(name, large) -> an official-layout file ({'state_dict': seeded tensors}, as both
    repositories' trainers save) per model, made once."""
    folder = tmp_path_factory.mktemp("adacof_upstream")
    files = {}

    def get(name: str, large: bool = False) -> Path:
        if (name, large) not in files:
            state = seeded_state(official_manifest(name))
            if large:
                state = large_offsets(state)
            files[name, large] = folder / f"{name}{'_large' if large else ''}.pth"
            torch.save({"state_dict": state, "epoch": 0}, files[name, large])
        return files[name, large]

    return get


def compare(name: str, sequence: str, data_dir: Path, checkpoint: Path) -> tuple[float, float]:
    repo = upstream_repo(CASES[name][0])
    replaced = ReplacedAdaCoF()
    theirs_model = upstream_model(name, repo, checkpoint, replaced)
    ours_model = vfi.models.load(name, weights=checkpoint)

    frame0, frame1 = to_tensor_pair(data_dir, sequence)
    ours0, ours1 = middlebury_pair(data_dir, sequence)
    torch.testing.assert_close(ours0, frame0, rtol=0, atol=0)  # vfi reads what ToTensor gives
    torch.testing.assert_close(ours1, frame1, rtol=0, atol=0)
    with torch.no_grad():
        theirs = theirs_model(frame0, frame1)
        ours = ours_model(ours0, ours1)
    assert replaced.calls == 2, f"upstream called the sampler {replaced.calls} times"
    low, high = replaced.offset_range
    print(f"\n{name} vs {repo.name}@{upstream_commit(repo)[:12]} {sequence}: offsets in [{low:.3f}, {high:.3f}]")
    assert_same_frame(ours, theirs, f"{name} {sequence}")
    return low, high


@pytest.mark.data
@pytest.mark.parametrize("sequence", PAIRS)
@pytest.mark.parametrize("name", list(CASES))
def test_same_frame_as_upstream(name, sequence, data_dir, checkpoints):
    upstream_repo(CASES[name][0])  # skips before any weights are made
    compare(name, sequence, data_dir, checkpoints(name))


@pytest.mark.data
@pytest.mark.parametrize("name", list(CASES))
def test_same_frame_as_upstream_with_offsets_of_several_pixels(name, data_dir, checkpoints):
    """Venus (420x380: reflect padding in both dimensions) with `large_offsets` weights."""
    upstream_repo(CASES[name][0])
    low, high = compare(name, "Venus", data_dir, checkpoints(name, large=True))
    assert low < -3 and high > 3, "the offsets did not reach several pixels"
