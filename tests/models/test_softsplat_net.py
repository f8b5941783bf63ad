"""SoftSplat: the official state_dict layout and checkpoint loading, and the facts that are easy to
get wrong (reference/UPSTREAM.md §5, §11): BGR inside, replicate padding right/bottom to even
sizes before the joint mean/std normalisation, de-normalisation and crop back, the time-dependent
metric and flows, exp(−Z) with −Z clipped, backward warping with align_corners=True, flows resized
by the width ratio, decoders that output the flow itself, and any t per batch element."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import vfi.models
from vfi.models import MODELS
from vfi.models.card import PLAIN
from vfi.models.softsplat_net import LEVELS, backwarp, resize_flow, splat

from checkpoint_helpers import frames, official_manifest, state_shapes, synthesised_state

NAME = "softsplat_net"
SIZE = 64  # the card's min_size: the smallest size that runs, so the fastest


def run(model, frame0, frame1, t) -> torch.Tensor:
    with torch.no_grad():
        return model(frame0, frame1, torch.as_tensor(t, dtype=torch.float32).reshape(-1))


@pytest.fixture(scope="module")
def model():
    return vfi.models.load(NAME)


def test_state_dict_equals_the_official_manifest(model):
    expected = official_manifest(NAME)
    shapes = state_shapes(model)
    assert list(shapes.items()) == list(expected["state_dict"].items())  # keys, shapes and order
    assert sum(p.numel() for p in model.parameters()) == expected["parameters"] == 7_668_852
    assert len(shapes) == expected["tensors"] == 278


def test_synthesised_official_checkpoint_loads_strictly(model, tmp_path):
    """Upstream's file is a bare state_dict whose keys say `module` where ours say `net`
    (`moduleSynthesis.moduleEncode…`), loaded with key.replace('module', 'net')."""
    state = synthesised_state(official_manifest(NAME), scale=0.05)
    path = tmp_path / "network-l1.pytorch"
    torch.save({key.replace("net", "module"): value for key, value in state.items()}, path)

    loaded = vfi.models.load(NAME, weights=path)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    frame0, frame1 = frames(SIZE, SIZE)
    before, after = run(model, frame0, frame1, 0.5), run(loaded, frame0, frame1, 0.5)
    assert torch.isfinite(after).all()
    assert (before - after).abs().max() > 1e-3


def test_card():
    card = MODELS[NAME]
    assert (card.pad_multiple, card.arbitrary_t, card.min_size) == (2, True, 64)
    assert card.ops == ("softsplat",)
    assert (card.checkpoint_manifest, card.checkpoint_layout) == ("softsplat", PLAIN)
    assert card.published_middlebury_psnr == 38.42


@pytest.mark.parametrize("height, width", [(SIZE, SIZE), (65, 97), (71, 64)])
def test_output_keeps_the_input_size(model, height, width):
    out = run(model, *frames(height, width), 0.5)
    assert out.shape == (1, 3, height, width)
    assert torch.isfinite(out).all()
    # Random weights still give frames near the inputs' mean, not exploding values.
    assert 0.0 < out.min() and out.max() < 1.0


def expected_network_input(frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Upstream's preprocessing, spelled out: BGR, replicate right/bottom to even, then one mean
    and one population std over all values of both padded frames, (x − μ) / (σ + 1e-7)."""
    height, width = frame0.shape[2:]
    padded = [
        F.pad(frame[:, [2, 1, 0]], (0, width % 2, 0, height % 2), mode="replicate") for frame in (frame0, frame1)
    ]
    values = torch.cat([p.flatten(1) for p in padded], 1).double()
    mean = values.mean(1).view(-1, 1, 1, 1)
    std = values.std(1, correction=0).view(-1, 1, 1, 1)
    return tuple(((p - mean) / (std + 1e-7)).float() for p in padded)


def test_flow_net_sees_bgr_evenly_padded_jointly_normalised_frames(model):
    seen = {}
    hook = model.netFlow.register_forward_pre_hook(lambda module, args: seen.update(frames=args[0]))
    # Different statistics per frame and per batch element, so a per-frame or per-batch
    # normalisation would show; odd sizes so the padding shows.
    frame0, frame1 = frames(65, 67, batch=2)
    frame1 = frame1 * 0.5 + 0.3
    frame0[1] = frame0[1] * 0.2
    try:
        run(model, frame0, frame1, [0.5, 0.5])
    finally:
        hook.remove()
    assert seen["frames"].shape == (4, 3, 66, 68)  # both frames as one batch, frame0's first
    one, two = seen["frames"].chunk(2)
    expected_one, expected_two = expected_network_input(frame0, frame1)
    torch.testing.assert_close(one, expected_one, rtol=0, atol=2e-5)
    torch.testing.assert_close(two, expected_two, rtol=0, atol=2e-5)


def test_output_is_denormalised_cropped_and_back_in_rgb(model):
    """With a synthesis that returns the normalised first frame, the model returns frame0."""
    # args[0] holds both normalised frames as one batch, frame0's first.
    hook = model.netSynthesis.register_forward_hook(lambda module, args, output: args[0].chunk(2)[0])
    frame0, frame1 = frames(65, 67)
    try:
        out = run(model, frame0, frame1 * 0.3, 0.5)
    finally:
        hook.remove()
    torch.testing.assert_close(out, frame0, rtol=0, atol=2e-6)


def test_time_scales_metrics_and_flows(model):
    """Z1 = 2t·metric(1→2), Z2 = 2(1−t)·metric(2→1), F1 = t·F_fwd, F2 = (1−t)·F_bwd; both
    directions travel as one batch, frame one's first."""
    seen = {}
    hooks = [
        model.netFlow.register_forward_hook(lambda module, args, output: seen.update(flows=output)),
        model.netSynthesis.netSoftmetric.register_forward_hook(lambda module, args, out: seen.update(metrics=out)),
        model.netSynthesis.netWarp.register_forward_pre_hook(lambda module, args: seen.update(warp=args)),
    ]
    t = 0.3
    try:
        run(model, *frames(SIZE, SIZE), t)
    finally:
        for hook in hooks:
            hook.remove()
    _, metric, flow = seen["warp"]
    time = torch.tensor([t, 1 - t]).view(2, 1, 1, 1)
    torch.testing.assert_close(metric, seen["metrics"] * 2 * time)
    torch.testing.assert_close(flow, seen["flows"] * time)


def test_each_batch_element_has_its_own_t(model):
    frame0, frame1 = frames(SIZE, SIZE, batch=2)
    together = run(model, frame0, frame1, [0.25, 0.75])
    for i, t in enumerate((0.25, 0.75)):
        alone = run(model, frame0[i : i + 1], frame1[i : i + 1], t)
        torch.testing.assert_close(together[i : i + 1], alone, rtol=0, atol=1e-5)
    assert (together[0] - run(model, frame0[:1], frame1[:1], 0.75)[0]).abs().max() > 1e-6
    # A single t serves the whole batch.
    torch.testing.assert_close(run(model, frame0, frame1, [0.25]), run(model, frame0, frame1, [0.25, 0.25]))


def test_splat_uses_exp_of_minus_metric_clipped_and_splats_the_metric():
    """Two pixels [10, 20] meet at x = 1 (UPSTREAM.md §1.4 with the metric negated)."""
    features = torch.tensor([10.0, 20.0]).view(1, 1, 1, 2)
    flow = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 2, 1, 2)
    metric = torch.tensor([math.log(3.0), 0.0]).view(1, 1, 1, 2)  # importance exp(−Z) = [1/3, 1]
    out = splat(features, metric, flow)
    torch.testing.assert_close(out[0, :, 0, 1], torch.tensor([17.5, math.log(3.0) / 4]))
    assert torch.equal(out[0, :, 0, 0], torch.zeros(2))
    # −Z = 100 would overflow exp in float32; clipped to 20 the first pixel dominates.
    out = splat(features, torch.tensor([-100.0, 0.0]).view(1, 1, 1, 2), flow)
    expected = (10 * math.exp(20) + 20) / (math.exp(20) + 1)
    torch.testing.assert_close(out[0, 0, 0, 1], torch.tensor(expected))


def test_backwarp_samples_pixel_centres_with_zeros_outside():
    image = torch.arange(12.0).view(1, 1, 3, 4)
    flow = torch.zeros(1, 2, 3, 4)
    flow[:, 0] = 1.0  # sample one pixel to the right
    expected = torch.tensor([[1.0, 2, 3, 0], [5, 6, 7, 0], [9, 10, 11, 0]])
    torch.testing.assert_close(backwarp(image, flow)[0, 0], expected)
    flow = torch.zeros(1, 2, 3, 4)
    flow[:, 1] = 0.5  # halfway down: the mean of two rows, half of the last row beyond
    expected = torch.tensor([[2.0, 3, 4, 5], [6, 7, 8, 9], [4, 4.5, 5, 5.5]])
    torch.testing.assert_close(backwarp(image, flow)[0, 0], expected)


def test_resized_flows_are_scaled_by_the_width_ratio():
    flow = torch.ones(1, 2, 3, 5)
    resized = resize_flow(flow, (7, 9))
    torch.testing.assert_close(resized, torch.full((1, 2, 7, 9), 9 / 5))  # both components


def test_decoders_output_the_flow_itself_not_a_residual(model):
    """Only the coarsest decoder outputs a non-zero (constant) flow; the finer decoders output 0,
    which a residual design would add to the upsampled coarse flow."""
    state = {key: value.clone() for key, value in model.state_dict().items()}
    try:
        with torch.no_grad():
            for level in LEVELS:
                last = model.netFlow._modules[level].netMain[-1]
                last.weight.zero_()
                last.bias.copy_(torch.tensor([3.0, -2.0]) if level == LEVELS[-1] else torch.zeros(2))
            flows = model.netFlow(torch.cat(frames(SIZE, SIZE)))
        assert torch.equal(flows, torch.zeros_like(flows))
    finally:
        model.load_state_dict(state)
