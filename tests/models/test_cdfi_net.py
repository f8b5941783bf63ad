"""CDFI (cdfi_adacof, F = 11, D = 2): the official state_dict layout, checkpoint loading, and the
parts CDFI adds to AdaCoF: the padded 1×1 feature pyramid, its resize to the P-padded size and
warp with both kernel sets, GridNet's input order and schedule, and the path-selection blend.
The shared AdaCoF preprocessing is tested in test_adacof_net.py (it runs cdfi_net too)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import vfi.models
from vfi.models.cdfi_net import DILATION, PYRAMID_WIDTHS, GridNet
from vfi.plugins.adacof import adacof

from checkpoint_helpers import frames, official_manifest, state_shapes, synthesised_state

BORDER = 10  # P = (11 − 1)·2/2


@pytest.fixture(scope="module")
def model():
    return vfi.models.load("cdfi_net", seed=0)


def capture(module: torch.nn.Module, model, *inputs) -> tuple:
    """(inputs, output) of `module`'s call while `model` runs on `inputs`."""
    seen = []
    handle = module.register_forward_hook(lambda mod, args, output: seen.append((args, output)))
    try:
        with torch.no_grad():
            final = model(*inputs)
    finally:
        handle.remove()
    ((args, output),) = seen
    return args, output, final


def test_state_dict_equals_the_official_manifest(model):
    manifest = official_manifest("cdfi_net")
    assert state_shapes(model) == manifest["state_dict"]  # key order differs: the pyramid convs come last here
    assert sum(p.numel() for p in model.parameters()) == manifest["parameters"] == 4_976_718


def test_grid_prelus_have_one_parameter_initialised_to_a_quarter():
    prelus = [m for m in vfi.models.load("cdfi_net").context_synthesis.modules() if isinstance(m, torch.nn.PReLU)]
    assert len(prelus) == 2 * (1 + 15 + 6 + 6 + 1)
    assert all(p.weight.shape == (1,) and p.weight.item() == 0.25 for p in prelus)


def test_synthesised_official_checkpoint_loads_strictly(tmp_path):
    state = synthesised_state(official_manifest("cdfi_net"), scale=0.02)
    path = tmp_path / "CDFI_adacof.pth"
    torch.save({"epoch": 1, "state_dict": state}, path)

    loaded = vfi.models.load("cdfi_net", weights=path)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    inputs = frames(32, 32)
    with torch.no_grad():
        changed, random_init = loaded(*inputs), vfi.models.load("cdfi_net")(*inputs)
    assert torch.isfinite(changed).all()
    assert not torch.allclose(changed, random_init)


def test_pyramid_maps_grow_by_two_with_a_bias_only_ring(model):
    (pair,), (_, pyramid), _ = capture(model.get_kernel, model, *frames(37, 45))
    assert pair.shape[2:] == (64, 64)
    for level, (features, width) in enumerate(zip(pyramid, PYRAMID_WIDTHS), 1):
        side = 64 // 2 ** (level - 1) + 2
        assert features.shape == (1, width, side, side)
        bias = getattr(model.get_kernel, f"module1by1_{level}").bias.view(1, -1, 1)
        ring = torch.cat([features[:, :, 0], features[:, :, -1], features[:, :, :, 0], features[:, :, :, -1]], 2)
        torch.testing.assert_close(ring, bias.expand_as(ring), rtol=0, atol=0)


def test_grid_input_is_upstreams_warps_in_upstreams_order(model):
    """[A1, A2, F1L, F1R, …, F5L, F5R]: each pyramid level resized (align_corners=False) to the
    P-padded size, without replicate padding, and warped with both kernel sets."""
    frame0, frame1 = frames(37, 45)
    _, (heads, pyramid), _ = capture(model.get_kernel, model, frame0, frame1)
    (context,), _, _ = capture(model.context_synthesis, model, frame0, frame1)

    def warp(x, side):
        return adacof(x, heads[f"Weight{side}"], heads[f"Alpha{side}"], heads[f"Beta{side}"], DILATION)

    padded = [F.pad(F.pad(f, (0, 19, 0, 27), mode="reflect"), (BORDER,) * 4, mode="replicate") for f in (frame0, frame1)]
    expected = [warp(padded[0], 1), warp(padded[1], 2)]
    for features in pyramid:
        resized = F.interpolate(features, size=(84, 84), mode="bilinear", align_corners=False)
        expected += [warp(resized, 1), warp(resized, 2)]
    assert context.shape == (1, 126, 64, 64)
    torch.testing.assert_close(context, torch.cat(expected, 1), rtol=0, atol=1e-6)


def test_path_selection_blends_grid_output_and_adacof_warp(model):
    frame0, frame1 = frames(37, 45)
    _, (heads, _), output = capture(model.get_kernel, model, frame0, frame1)
    (context,), synthesised, _ = capture(model.context_synthesis, model, frame0, frame1)
    occlusion, blend = heads["Occlusion"], heads["Blend"]
    warped = occlusion * context[:, :3] + (1 - occlusion) * context[:, 3:6]
    expected = blend * synthesised + (1 - blend) * warped
    torch.testing.assert_close(output, expected[:, :, :37, :45], rtol=0, atol=1e-6)


def test_grid_schedule_matches_upstream():
    """The state equations of CDFI's GridNet, written out as upstream does."""
    torch.manual_seed(0)
    g = GridNet(126, 3).eval()
    x = torch.randn(1, 126, 32, 64)
    with torch.no_grad():
        s00 = g.lateral_init(x)
        s10 = g.down_0_0(s00)
        s20 = g.down_1_0(s10)
        s01 = g.lateral_0_0(s00)
        s11 = g.down_0_1(s01) + g.lateral_1_0(s10)
        s21 = g.down_1_1(s11) + g.lateral_2_0(s20)
        s02 = g.lateral_0_1(s01)
        s12 = g.down_0_2(s02) + g.lateral_1_1(s11)
        s22 = g.down_1_2(s12) + g.lateral_2_1(s21)
        s23 = g.lateral_2_2(s22)
        s13 = g.up_1_0(s23) + g.lateral_1_2(s12)
        s03 = g.up_0_0(s13) + g.lateral_0_2(s02)
        s24 = g.lateral_2_3(s23)
        s14 = g.up_1_1(s24) + g.lateral_1_3(s13)
        s04 = g.up_0_1(s14) + g.lateral_0_3(s03)
        s25 = g.lateral_2_4(s24)
        s15 = g.up_1_2(s25) + g.lateral_1_4(s14)
        s05 = g.up_0_2(s15) + g.lateral_0_4(s04)
        torch.testing.assert_close(g(x), g.lateral_final(s05), rtol=0, atol=0)


def test_lateral_blocks_project_width_changes_with_a_3x3_conv():
    g = GridNet(126, 3)
    assert g.lateral_init.conv.weight.shape == (32, 126, 3, 3)
    assert g.lateral_final.conv.weight.shape == (3, 32, 3, 3)
    assert isinstance(g.lateral_0_0.conv, torch.nn.Identity)
