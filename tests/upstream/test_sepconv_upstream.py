"""SepConv against the official code (issue 12): `sepconv_net` and `sepconv_net_paper` load the
same seeded official-layout file as sniklaus/sepconv-slomo's `run.py`, and give the same frame.

Upstream side: `sepconv-slomo/run.py` imported from its own source, its `Network` built by its own
constructor (whose `torch.hub.load_state_dict_from_url` is answered with our file, so upstream's
own `key.replace('module', 'net')` loader runs), run through its own `estimate()` (padding to ×128
per `args_strPadding`, crop back) on frames read as its `__main__` reads them (PIL RGB reversed
to BGR, × 1/255, CHW float32). Only the CuPy kernel is replaced: `sepconv.sepconv_func` becomes
`ReferenceSepconv` below, written from the paper's definition (Niklaus et al. 2017, eq. 2:
out(y, x) = Σ_i Σ_j in(y + i, x + j) · v_i(y, x) · h_j(y, x)), in float64, not vfi's op.

Our side: `vfi.models.load(name, weights=FILE)` on RGB [0, 1] frames from `read_rgb`.

sniklaus/revisiting-sepconv's `run.py` is a different network (the WACV 2021 "Revisiting Adaptive
Convolutions" model: PReLU encoder/decoder, input normalisation, a ones channel for kernel
normalisation, 'resepconv-*' weights); no vfi model implements it, which the last test records.

Run: OMP_NUM_THREADS=1 VFI_UPSTREAM_DIR=/work/upstream python3 -m pytest \
     tests/upstream/test_sepconv_upstream.py -s -q"""

from __future__ import annotations


import numpy as np
import pytest
import torch

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

# vfi model -> sepconv-slomo's `args_strPadding` (run.py: 'improved' is its default).
PADDINGS = {"sepconv_net": "improved", "sepconv_net_paper": "paper"}
CHECKPOINT_URL = "http://content.sniklaus.com/sepconv/network-l1.pytorch"


class ReferenceSepconv:
    """Stands in for upstream's `sepconv_func` (same `.apply(tenIn, tenVer, tenHor)` interface):
    tenIn [N,C,H+K-1,W+K-1] (already padded), tenVer/tenHor [N,K,H,W] per-pixel 1-D kernels,
    vertical taps on rows, horizontal on columns, no normalisation. Summed in float64 and
    returned in the input's dtype, as upstream's kernel returns tenIn's dtype."""

    calls = 0

    @staticmethod
    def apply(tenIn: torch.Tensor, tenVer: torch.Tensor, tenHor: torch.Tensor) -> torch.Tensor:
        ReferenceSepconv.calls += 1
        taps, height, width = tenVer.shape[1], tenVer.shape[2], tenVer.shape[3]
        assert tenHor.shape == tenVer.shape
        assert tenIn.shape[2] == height + taps - 1 and tenIn.shape[3] == width + taps - 1, (tenIn.shape, tenVer.shape)
        source, ver, hor = tenIn.double(), tenVer.double(), tenHor.double()
        out = torch.zeros(tenIn.shape[0], tenIn.shape[1], height, width, dtype=torch.float64)
        row = torch.empty_like(out)
        for i in range(taps):  # v_i · Σ_j in(y + i, x + j) · h_j
            row.zero_()
            for j in range(taps):
                row.addcmul_(source[:, :, i:i + height, j:j + width], hor[:, j:j + 1])
            out.addcmul_(row, ver[:, i:i + 1])
        return out.to(tenIn.dtype)


def test_reference_sepconv_worked_example():
    """UPSTREAM.md §3's example (K = 3): image 0…8, Ver = [0, 1, 0], Hor = [.25, .5, .25] → 4."""
    image = torch.arange(9.0).view(1, 1, 3, 3)
    ver = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)
    hor = torch.tensor([0.25, 0.5, 0.25]).view(1, 3, 1, 1)
    assert ReferenceSepconv.apply(image, ver, hor).item() == 4.0
    # and the taps' axes: a vertical one-hot on tap 0 reads the row above the centre
    ver_up = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    hor_centre = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)
    assert ReferenceSepconv.apply(image, ver_up, hor_centre).item() == 1.0
    assert ReferenceSepconv.apply(image, hor_centre, ver_up).item() == 3.0


SUBNETS = ("netVertical1", "netVertical2", "netHorizontal1", "netHorizontal2")
TAP_SCALE = 4.0  # seeded kernels have taps of std ~0.018; ×4 makes the off-centre taps matter
CENTRE_GAIN = 0.5 ** 0.5  # v_25 · h_25 ≈ 1/2 per frame: the two frames' sepconvs sum to about a frame


def frame_scale_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`seeded_state` with only the subnets' last convs (`.7`) changed so that the output is a
    frame-scale image. Straight from `seeded_state`, SepConv's kernels are tiny (taps ~0.02, the
    output frame ~0.003 ± 0.003, nearly all clamped to 0), which any two implementations would
    'match' at 80 dB. Here each kernel is CENTRE_GAIN on the centre tap plus the seeded conv output
    × TAP_SCALE (the map is linear in `.7`), so output ≈ the mean frame ± a few tenths, shaped by
    every stage of the network. Both sides load these same tensors."""
    state = dict(state)
    for subnet in SUBNETS:
        state[f"{subnet}.7.weight"] = state[f"{subnet}.7.weight"] * TAP_SCALE
        bias = state[f"{subnet}.7.bias"] * TAP_SCALE
        bias[bias.shape[0] // 2] += CENTRE_GAIN
        state[f"{subnet}.7.bias"] = bias
    return state


@pytest.fixture(scope="module")
def slomo():
    """The sepconv-slomo checkout (skips first, before the weights file is written)."""
    return upstream_repo("sepconv-slomo")


@pytest.fixture(scope="module")
def official_file(slomo, tmp_path_factory):
    """The seeded tensors in the official layout: a bare state_dict with `module…` keys."""
    state = frame_scale_state(seeded_state(official_manifest("sepconv_net")))
    raw = {key.replace("net", "module", 1): value for key, value in state.items()}
    assert all(key.startswith("module") for key in raw)
    path = tmp_path_factory.mktemp("sepconv") / "network-l1.pytorch"
    torch.save(raw, path)
    return path, state


def read_like_upstream_main(path) -> torch.Tensor:
    """sepconv-slomo/run.py `__main__`: PIL RGB reversed to BGR, CHW, float32 × (1 / 255)."""
    from PIL import Image

    array = np.array(Image.open(path))[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) * (1.0 / 255.0)
    return torch.FloatTensor(np.ascontiguousarray(array))


def upstream_estimate(repo, padding: str, weights_path, one_path, two_path, monkeypatch) -> torch.Tensor:
    """sepconv-slomo's estimate() on the two files, as `run.py --padding PADDING` would compute it;
    returned as RGB [1,3,H,W]."""
    raw = torch.load(weights_path, weights_only=True)
    requested = []

    def hub(url, file_name=None, **kwargs):
        requested.append((url, file_name))
        return dict(raw)

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", hub)
    with upstream_modules(repo, "sepconv", "run") as (sepconv, run):
        monkeypatch.setattr(sepconv, "sepconv_func", ReferenceSepconv)
        run.args_strModel = "l1"  # `--model l1` (default lf): the checkpoint for evaluation; same architecture
        run.args_strPadding = padding  # `--padding improved|paper`
        run.netNetwork = None
        before = ReferenceSepconv.calls
        with cuda_calls_stay_on_cpu():
            output = run.estimate(read_like_upstream_main(one_path), read_like_upstream_main(two_path))
        assert ReferenceSepconv.calls - before == 2, "upstream's forward should run two sepconvs"
        network_state = run.netNetwork.state_dict()
        run.netNetwork = None
    assert requested == [(CHECKPOINT_URL, "sepconv-l1")]
    for key, value in raw.items():  # upstream's own loader saw our file
        assert torch.equal(network_state[key.replace("module", "net")], value), key
    return output.flip(0).unsqueeze(0)  # BGR CHW -> RGB [1,3,H,W]


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("sequence", PAIRS)
@pytest.mark.parametrize("name", list(PADDINGS))
def test_same_frame_as_sepconv_slomo(name, sequence, slomo, official_file, data_dir, monkeypatch):
    repo = slomo
    weights_path, state = official_file
    folder = data_dir / "middlebury" / sequence

    theirs = upstream_estimate(repo, PADDINGS[name], weights_path, folder / "frame10.png", folder / "frame11.png", monkeypatch)

    model = vfi.models.load(name, weights=weights_path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    frame0, frame1 = middlebury_pair(data_dir, sequence)
    with torch.no_grad():
        ours = model(frame0, frame1)

    assert ours.shape == frame0.shape
    # the seeded weights must give a frame that depends on the input (not a constant or all-clamped)
    inside = float(((ours > 0) & (ours < 1)).double().mean())
    print(f"{name} on {sequence}: output mean {float(ours.mean()):.3f}, std {float(ours.std()):.3f}, {100 * inside:.1f}% inside (0, 1)")
    assert float(ours.clamp(0, 1).std()) > 0.05 and inside > 0.5
    assert_same_frame(ours, theirs, f"{name} vs sepconv-slomo@{upstream_commit(repo)[:8]} --padding {PADDINGS[name]} on {sequence}")


def test_revisiting_sepconv_is_a_different_network(monkeypatch):
    """revisiting-sepconv's Network does not have the SepConv state_dict: its weights load into
    no vfi model, so there is nothing of ours to compare it with."""
    repo = upstream_repo("revisiting-sepconv")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *args, **kwargs: {})  # no download
    with upstream_modules(repo, "sepconv", "run") as (_, run):
        monkeypatch.setattr(run.Network, "load_state_dict", lambda self, *args, **kwargs: None)
        keys = set(run.Network().state_dict())
    ours = set(official_manifest("sepconv_net")["state_dict"])
    print(f"revisiting-sepconv@{upstream_commit(repo)[:8]}: {len(keys)} tensors, {len(keys & ours)} shared with sepconv.json")
    assert not keys & ours
    assert keys != set(vfi.models.load("sepconv_net").state_dict())


@pytest.mark.data
@pytest.mark.slow
def test_the_comparison_catches_a_wrong_channel_order_or_padding(slomo, official_file, data_dir, monkeypatch):
    """Negative control: with the same file, ours fed RGB instead of BGR, or padded as `paper`
    instead of `improved`, is far from upstream's `improved` frame, so the weights above are
    sensitive to both facts (and 80 dB is not reached by chance)."""
    from vfi.models.sepconv_net import SepConvConfig, SepConvNet

    repo = slomo
    weights_path, state = official_file
    folder = data_dir / "middlebury" / "Venus"
    theirs = upstream_estimate(repo, "improved", weights_path, folder / "frame10.png", folder / "frame11.png", monkeypatch)
    frame0, frame1 = middlebury_pair(data_dir, "Venus")
    for what, config in (("RGB fed", SepConvConfig(channel_order="rgb")), ("paper padding", SepConvConfig(padding="paper"))):
        mutant = SepConvNet(config).eval()
        mutant.load_state_dict(state)
        with torch.no_grad():
            ours = mutant(frame0, frame1).clamp(0, 1).double()
        mse = float(((ours - theirs.clamp(0, 1).double()) ** 2).mean())
        value = 10 * np.log10(1 / mse) if mse else float("inf")
        print(f"negative control, sepconv_net with {what} vs sepconv-slomo --padding improved on Venus: {value:.2f} dB")
        assert value < 60, what
