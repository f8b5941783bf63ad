"""SepConv (`improved` and `paper` padding) and the SepConv-GAN generator: the official state_dict
layout, checkpoint loading, and the preprocessing facts that are easy to get wrong (BGR for the
official weights, replicate padding to ×128 right/bottom or 25 all round first, the inner
replicate pad by 25, vertical taps on rows, plain sum of the two sepconvs, crop back)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import vfi.models
from vfi.models import MODELS
from vfi.models.sepconv_net import SEPCONV, SEPCONV_GAN, SEPCONV_PAPER, SepConvConfig, frame_padding
from vfi.frames.images import read_rgb

from checkpoint_helpers import frames, official_manifest, state_shapes, synthesised_state

SEPCONV_MODELS = ["sepconv_net", "sepconv_net_paper", "sepconv_gan_net"]
PARAMETERS = 21_675_452
KERNEL = 51
CENTRE = KERNEL // 2
SUBNETS = ("netVertical1", "netHorizontal1", "netVertical2", "netHorizontal2")


def run(model: torch.nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(*inputs)


def force_kernels(model, taps: dict[str, tuple[int, float]]):
    """Make each subnet named in `taps` output a one-hot kernel: `scale` on tap `tap` everywhere;
    the subnets not named output zeros."""

    def hook(name):
        def replace(module, inputs, output):
            forced = torch.zeros_like(output)
            if name in taps:
                tap, scale = taps[name]
                forced[:, tap] = scale
            return forced

        return replace

    return [getattr(model, name).register_forward_hook(hook(name)) for name in SUBNETS]


@pytest.mark.parametrize("name", SEPCONV_MODELS)
def test_state_dict_equals_the_official_manifest(name):
    """The GAN generator is SepConv's architecture, so it shares the manifest too."""
    model = vfi.models.load(name)
    expected = official_manifest(name)
    assert MODELS[name].checkpoint_manifest == "sepconv"
    assert state_shapes(model) == expected["state_dict"]
    assert list(state_shapes(model)) == list(expected["state_dict"])  # upstream's key order too
    assert sum(p.numel() for p in model.parameters()) == expected["parameters"] == PARAMETERS
    assert len(model.state_dict()) == expected["tensors"] == 94


@pytest.mark.parametrize("name", SEPCONV_MODELS)
def test_synthesised_official_checkpoint_loads_strictly(name, tmp_path):
    """Upstream's files are bare state_dicts with `moduleConv1.0.weight`-style keys."""
    state = synthesised_state(official_manifest(name), scale=0.02)
    path = tmp_path / "network-l1.pytorch"
    torch.save({key.replace("net", "module", 1): value for key, value in state.items()}, path)

    loaded = vfi.models.load(name, weights=path, seed=0)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_published_numbers_and_padding_multiples_on_the_cards():
    assert MODELS["sepconv_net"].published_middlebury_psnr == 35.85
    assert MODELS["sepconv_net_paper"].published_middlebury_psnr == 35.73
    assert MODELS["sepconv_gan_net"].published_middlebury_psnr is None
    assert [MODELS[name].pad_multiple for name in SEPCONV_MODELS] == [128, 128, 32]
    assert all(MODELS[name].ops == ("sepconv",) and not MODELS[name].arbitrary_t for name in SEPCONV_MODELS)


@pytest.mark.parametrize(
    "config, size, padded",
    [
        # reference/UPSTREAM.md §6.1's examples, (H, W) → padded (H, W).
        (SEPCONV, (480, 640), (512, 640)),
        (SEPCONV, (388, 584), (512, 640)),
        (SEPCONV_PAPER, (480, 640), (640, 768)),
        (SEPCONV, (512, 640), (512, 640)),  # already a multiple: no padding
        (SEPCONV_PAPER, (78, 206), (128, 256)),  # 25 + 78 + 25 = 128 exactly: 25 on each side only
        (SEPCONV_GAN, (380, 420), (384, 448)),
    ],
)
def test_frame_padding_matches_upstream_examples(config, size, padded):
    left, right, top, bottom = frame_padding(*size, config)
    border = 25 if config.padding == "paper" else 0
    assert (left, top) == (border, border)
    assert (top + size[0] + bottom, left + size[1] + right) == padded


@pytest.mark.parametrize(
    "name, order, padding",
    [
        ("sepconv_net", [2, 1, 0], (0, 128 - 45, 0, 128 - 37)),
        ("sepconv_net_paper", [2, 1, 0], (25, 128 - 45 - 25, 25, 128 - 37 - 25)),
        ("sepconv_gan_net", [0, 1, 2], (0, 64 - 45, 0, 64 - 37)),
    ],
)
def test_network_sees_replicate_padded_frames_in_its_channel_order(name, order, padding):
    """sepconv_net feeds BGR as upstream; the GAN generator RGB. Nothing is normalised."""
    model = vfi.models.load(name)
    frame0, frame1 = frames(37, 45)
    seen = []
    model.netConv1.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    run(model, frame0, frame1)

    expected = torch.cat([F.pad(f[:, order], padding, mode="replicate") for f in (frame0, frame1)], 1)
    (pair,) = seen
    torch.testing.assert_close(pair, expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", SEPCONV_MODELS)
def test_centre_taps_give_a_plain_sum_of_the_frames(name):
    """Centre taps read each frame's own pixel; the result is Ver·Hor-weighted and summed, with
    no normalisation, then cropped back and returned in RGB."""
    model = vfi.models.load(name)
    frame0, frame1 = frames(37, 45)
    force_kernels(
        model,
        {"netVertical1": (CENTRE, 1.0), "netHorizontal1": (CENTRE, 0.75), "netVertical2": (CENTRE, 2.0), "netHorizontal2": (CENTRE, 0.5)},
    )
    torch.testing.assert_close(run(model, frame0, frame1), 0.75 * frame0 + 1.0 * frame1, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", SEPCONV_MODELS)
def test_vertical_taps_move_rows_and_horizontal_taps_columns(name):
    """Tap i of the vertical kernel reads row y + i − 25 of the frame, tap j of the horizontal
    one column x + j − 25. Every pad on the way is replicate, so reads past the frame clamp to
    its border whatever the padding mode."""
    model = vfi.models.load(name)
    frame0, frame1 = frames(37, 45)
    rows, cols = torch.arange(37), torch.arange(45)

    def shifted(frame, down, right):
        return frame[:, :, (rows + down).clamp(0, 36)][:, :, :, (cols + right).clamp(0, 44)]

    hooks = force_kernels(model, {"netVertical1": (CENTRE + 3, 1.0), "netHorizontal1": (CENTRE - 20, 1.0)})
    torch.testing.assert_close(run(model, frame0, frame1), shifted(frame0, 3, -20), rtol=0, atol=1e-6)
    for hook in hooks:
        hook.remove()
    force_kernels(model, {"netVertical2": (0, 1.0), "netHorizontal2": (KERNEL - 1, 1.0)})
    torch.testing.assert_close(run(model, frame0, frame1), shifted(frame1, -25, 25), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "name, size",
    [
        ("sepconv_net", (1, 1)),
        ("sepconv_net", (20, 129)),
        ("sepconv_net_paper", (1, 1)),
        ("sepconv_gan_net", (1, 1)),
        ("sepconv_gan_net", (64, 33)),
    ],
)
def test_output_keeps_any_size(name, size):
    """Replicate padding has no minimum size (37×45 runs in the tests above)."""
    assert MODELS[name].min_size == 1
    output = run(vfi.models.load(name), *frames(*size))
    assert output.shape == (1, 3, *size)
    assert torch.isfinite(output).all()


def test_batch_items_are_independent():
    model = vfi.models.load("sepconv_gan_net")  # the same forward pass, padded to ×32 only: fast
    frame0, frame1 = frames(33, 40, batch=2)
    batched = run(model, frame0, frame1)
    for i in range(2):
        torch.testing.assert_close(batched[i : i + 1], run(model, frame0[i : i + 1], frame1[i : i + 1]), rtol=0, atol=1e-5)


def test_bad_frames_are_rejected_with_their_shapes():
    model = vfi.models.load("sepconv_net")
    frame0, frame1 = frames(32, 32)
    with pytest.raises(ValueError, match=r"frame0 must have shape \[N,3,H,W\]"):
        run(model, frame0[:, :2], frame1)
    with pytest.raises(ValueError, match="differ in shape"):
        run(model, frame0, frame1[:, :, :31])


@pytest.mark.parametrize(
    "field, value",
    [("channel_order", "yuv"), ("padding", "reflect"), ("pad_multiple", 48), ("pad_multiple", 0), ("kernel_size", 50)],
)
def test_invalid_configurations_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        SepConvConfig(**{field: value})


@pytest.mark.data
@pytest.mark.slow
def test_real_middlebury_pair_padded_in_both_dimensions(data_dir):
    """Venus is 420×380: neither side is a multiple of 128 (padded to 512×384)."""
    venus = data_dir / "middlebury" / "Venus"
    frame0, frame1 = (torch.from_numpy(read_rgb(venus / name)) for name in ("frame10.png", "frame11.png"))
    output = run(vfi.models.load("sepconv_net"), frame0, frame1)
    assert output.shape == frame0.shape == (1, 3, 380, 420)
    assert torch.isfinite(output).all()
