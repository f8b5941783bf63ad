"""softsplat_net against the official sniklaus/softmax-splatting `run.py` (issue 12): the same seeded
weights, saved once in the official file layout, and the same Middlebury pair give the same frame
at t = 0.25, 0.5 and 0.75.

Upstream runs from its own source: `run.py`'s `estimate()` (BGR [3,H,W] in [0, 1], replicate
padding to even sizes, crop back) and its `Network` (joint normalisation, flow, one synthesis per
t: the arbitrary-t path its video mode uses with [0.25, 0.5, 0.75]). Only the two CuPy kernels are
replaced, by plain-PyTorch versions written here from the kernels' arithmetic (not vfi's ops, so
the check is independent):

* `softsplat.softsplat_func` (kernel `softsplat_out`): every source pixel adds its value times the
  bilinear weight to the four integer neighbours of (x + u, y + v); neighbours outside the frame
  are dropped and non-finite targets skipped. Upstream's own `softsplat.softsplat` stays: it makes
  [in·exp(Z) ‖ exp(Z)] and divides by the splatted exp(Z) + 1e-7.
* `correlation._FunctionCorrelation` (kernels `kernel_Correlation_rearrange` and
  `kernel_Correlation_updateOutput`): the second features zero-padded by 4; channel
  k = (dy+4)·9 + (dx+4) holds sum_c one[c,y,x]·two[c,y+dy,x+dx] divided by the channel count.

Everything else is upstream's: module-level code runs inside `upstream_modules` (which hides
pytest's arguments from its getopt and restores the grad mode it switches off),
`torch.hub.load_state_dict_from_url` returns the seeded file's content (so upstream's own
`replace('module', 'net')` and strict load run), and `.cuda()` stays on the CPU.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
import torch.nn.functional as F

import vfi.models

from upstream_helpers import (
    PAIRS,
    assert_same_frame,
    cuda_calls_stay_on_cpu,
    middlebury_pair,
    official_manifest,
    seeded_state,
    upstream_commit,
    upstream_modules,
    upstream_repo,
)

pytestmark = [
    pytest.mark.data,
    # Upstream's softsplat.py and correlation.py hold regular expressions with \( in non-raw strings.
    pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning"),
]

NAME = "softsplat_net"
REPO = "softmax-splatting"
TIMES = (0.25, 0.5, 0.75)


# --- the CuPy kernels, in plain PyTorch ------------------------------------------------------------


def splat_forward(tenIn: torch.Tensor, tenFlow: torch.Tensor) -> torch.Tensor:
    """`softsplat_out`: summation splatting of `tenIn` [N,C,H,W] by `tenFlow` [N,2,H,W] (x, y)."""
    tenIn, tenFlow = tenIn.float(), tenFlow.float()  # softsplat_func.forward's casts
    batch, channels, height, width = tenIn.shape
    ys = torch.arange(height, dtype=torch.float32).view(height, 1).expand(height, width)
    xs = torch.arange(width, dtype=torch.float32).view(1, width).expand(height, width)
    x = xs + tenFlow[:, 0]  # [N,H,W]
    y = ys + tenFlow[:, 1]
    finite = torch.isfinite(x) & torch.isfinite(y)
    x = torch.where(finite, x, torch.zeros_like(x))
    y = torch.where(finite, y, torch.zeros_like(y))
    west, north = torch.floor(x), torch.floor(y)
    east, south = west + 1.0, north + 1.0
    corners = (  # (corner x, corner y, weight) exactly as the kernel writes them
        (west, north, (east - x) * (south - y)),
        (east, north, (x - west) * (south - y)),
        (west, south, (east - x) * (y - north)),
        (east, south, (x - west) * (y - north)),
    )
    out = tenIn.new_zeros(batch, channels, height * width)
    source = tenIn.reshape(batch, channels, height * width)
    for cx, cy, weight in corners:
        inside = finite & (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
        index = torch.where(inside, cy * width + cx, torch.zeros_like(cx)).long().reshape(batch, 1, -1)
        weight = torch.where(inside, weight, torch.zeros_like(weight)).reshape(batch, 1, -1)
        out.scatter_add_(2, index.expand(batch, channels, -1), source * weight)
    return out.reshape(batch, channels, height, width)


def cost_volume(one: torch.Tensor, two: torch.Tensor) -> torch.Tensor:
    """`kernel_Correlation_updateOutput` over the rearranged (zero-padded by 4) features."""
    _, channels, height, width = one.shape
    padded = F.pad(two, [4, 4, 4, 4])
    volume = []
    for k in range(81):  # top_channel: s2o = k % 9 - 4 (x), s2p = k // 9 - 4 (y)
        dx, dy = k % 9 - 4, k // 9 - 4
        shifted = padded[:, :, 4 + dy : 4 + dy + height, 4 + dx : 4 + dx + width]
        volume.append((one * shifted).sum(1) / float(channels))
    return torch.stack(volume, 1)


class PlainSoftsplatFunc:
    @staticmethod
    def apply(tenIn, tenFlow):
        return splat_forward(tenIn, tenFlow)


class PlainCorrelationFunc:
    @staticmethod
    def apply(one, two):
        return cost_volume(one.contiguous(), two.contiguous())


def test_plain_kernels_behave_like_the_cuda_ones():
    """The replacements themselves: a unit impulse splats to its bilinear neighbours (and off the
    frame to nothing), and the cost volume's centre channel is the channel mean of the product."""
    image = torch.zeros(1, 1, 4, 5)
    image[0, 0, 1, 1] = 1.0
    flow = torch.zeros(1, 2, 4, 5)
    flow[0, :, 1, 1] = torch.tensor([0.25, 1.5])  # to (1.25, 2.5)
    out = splat_forward(image, flow)
    expected = torch.zeros(1, 1, 4, 5)
    expected[0, 0, 2, 1], expected[0, 0, 2, 2], expected[0, 0, 3, 1], expected[0, 0, 3, 2] = 0.375, 0.125, 0.375, 0.125
    assert torch.allclose(out, expected)
    flow[0, :, 1, 1] = torch.tensor([float("nan"), 0.0])
    assert splat_forward(image, flow).abs().sum() == 0
    one, two = torch.randn(2, 1, 3, 6, 7).unbind(0)
    volume = cost_volume(one, two)
    assert volume.shape == (1, 81, 6, 7)
    assert torch.allclose(volume[:, 40], (one * two).mean(1))
    # k = 41 is dx = +1: one at x meets two at x + 1, zero past the right border.
    assert torch.allclose(volume[:, 41, :, :-1], (one[..., :-1] * two[..., 1:]).mean(1))
    assert volume[:, 41, :, -1].abs().max() == 0


# --- upstream, from its own source ---------------------------------------------------------------


@contextlib.contextmanager
def upstream_run(repo, monkeypatch, official_file):
    """run.py imported as upstream runs it (from its folder), its kernels replaced and its weight
    download answered with `official_file`'s content; yields the `run` module."""
    # run.py falls back to sys.path.insert(0, './correlation'), relative to the working directory.
    monkeypatch.chdir(repo)
    download = lambda url, file_name=None, **kwargs: torch.load(official_file, weights_only=True)  # noqa: E731
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", download)
    # Not "correlation" by name: from the repository root that is the folder (a namespace
    # package); run.py's own fallback import finds correlation/correlation.py.
    with upstream_modules(repo, "softsplat", "run") as (softsplat, run):
        correlation = run.correlation
        assert run.softsplat is softsplat
        assert correlation.__file__.endswith("correlation/correlation.py"), correlation
        monkeypatch.setattr(softsplat, "softsplat_func", PlainSoftsplatFunc)
        monkeypatch.setattr(correlation, "_FunctionCorrelation", PlainCorrelationFunc)
        with cuda_calls_stay_on_cpu():
            yield run


# Seeded weights (1/sqrt(fan-in)) give flows under a pixel, so splatting never leaves a pixel's
# neighbourhood. The second case multiplies each flow decoder's last convolution (`netMain.10`) by
# FLOW_GAIN on both sides: the same network otherwise, with flows of several pixels, so the
# coarse-to-fine warping, the backward warps of the softmetric and the splatting all move pixels.
FLOW_GAIN = 24.0
FLOW_CASES = {"seeded": 1.0, "large-flow": FLOW_GAIN}


@pytest.fixture(scope="module")
def official_files(tmp_path_factory):
    """Per flow case, the seeded tensors in the official file's layout: a bare state_dict whose
    keys say `module` where ours (the manifest's, after upstream's rename) say `net`."""
    folder = tmp_path_factory.mktemp("softsplat")
    files = {}
    for case, gain in FLOW_CASES.items():
        state = seeded_state(official_manifest(NAME))
        for key in state:
            if key.startswith("netFlow.net") and ".netMain.10." in key:
                state[key] = state[key] * gain
        raw = {key.replace("net", "module"): value for key, value in state.items()}
        assert {key.replace("module", "net") for key in raw} == set(state)
        files[case] = folder / f"network-{case}.pytorch"
        torch.save(raw, files[case])
    return files


def flow_record(store):
    def hook(module, inputs, output):
        store.append(output)

    return hook


@pytest.mark.parametrize("case", FLOW_CASES)
@pytest.mark.parametrize("sequence", PAIRS)
def test_softsplat_matches_upstream(sequence, case, data_dir, official_files, monkeypatch):
    repo = upstream_repo(REPO)
    official_file = official_files[case]
    frame0, frame1 = middlebury_pair(data_dir, sequence)
    print(f"\n{REPO} {upstream_commit(repo)}, {sequence} {tuple(frame0.shape[2:])}, {case} weights")

    ours_model = vfi.models.load(NAME, weights=official_file)
    our_flows = []
    ours_model.netFlow.register_forward_hook(flow_record(our_flows))
    with torch.no_grad():
        ours = [ours_model(frame0, frame1, torch.tensor([t])) for t in TIMES]

    their_flows = []
    with upstream_run(repo, monkeypatch, official_file) as run:
        # run.py's __main__: PIL RGB reversed to BGR, CHW, /255; estimate() pads, runs, crops.
        run.netNetwork = run.Network().cuda().train(False)
        run.netNetwork.netFlow.register_forward_hook(flow_record(their_flows))
        outputs = run.estimate(frame0[0].flip(0), frame1[0].flip(0), list(TIMES))
    theirs = [output.flip(0).unsqueeze(0) for output in outputs]  # BGR -> RGB, [1,3,H,W]

    # The flows both sides estimated (once per pair upstream; ours per call, all the same).
    forward, backward = their_flows[0]["tenForward"], their_flows[0]["tenBackward"]
    mine = our_flows[0]
    flow_diff = max((mine[:1] - forward).abs().max().item(), (mine[1:] - backward).abs().max().item())
    print(
        f"flow |max| forward {forward.abs().max():.3f} px, backward {backward.abs().max():.3f} px; "
        f"mean |flow| {forward.abs().mean():.3f} px; ours - upstream max {flow_diff:.2e} px"
    )

    failures = []
    for t, a, b in zip(TIMES, ours, theirs):
        try:
            assert_same_frame(a, b, f"{sequence} {case} t={t}")
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "; ".join(failures)
