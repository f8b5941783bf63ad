"""DSFN: the paper's widths and parameter sharing, its I/O, the residual bases, loading weights,
and the exported two-level graph in ONNX Runtime (standard DeformConv, dynamic size)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vfi.export.model import export_model
from vfi.plugins.onnx_model import ort_session
from vfi.models import CheckpointError, build, get_card, load
from vfi.models.deform_conv import DeformConv2d
from vfi.models.dsfn_net import DSFNNet, DSFNTwoLevelNet

PARITY_PSNR_DB = 60.0


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def upsample(frame: torch.Tensor) -> torch.Tensor:
    return F.interpolate(frame, scale_factor=4, mode="nearest")


def zero_decoder_outputs(*levels):
    """Zero each level's last decoder conv, so its outputs are exactly the bases f^H,0."""
    for level in levels:
        torch.nn.init.zeros_(level.decoder[-1].weight)
        torch.nn.init.zeros_(level.decoder[-1].bias)


def test_parameter_counts_follow_the_paper_widths():
    single, two = DSFNNet(), DSFNTwoLevelNet()
    assert count(single) == 4_945_044
    # The two level-1 networks of Figure 2 are one module applied twice; level 2 has its own
    # parameters and a 5 × 48 = 240-channel encoder input.
    assert count(two) == count(two.level1) + count(two.level2) == 4_945_044 + 5_078_100
    assert two.level1.encoder[0][0].in_channels == 9 and two.level2.encoder[0][0].in_channels == 240
    assert {k for k in two.state_dict() if k.startswith("level1.")} == set(single.state_dict())
    for level in (single.level1, two.level1, two.level2):
        assert level.tfbfi[-1].out_channels == 36  # Φ1 and Φ3: (dy, dx) for 9 taps each
        assert level.decoder[-1].out_channels == 48  # 3 · r², r = 4


@pytest.mark.parametrize("cls", [DSFNNet, DSFNTwoLevelNet])
def test_io_names_and_four_times_larger_outputs_for_odd_sizes(cls):
    model = build(get_card("dsfn_net" if cls is DSFNNet else "dsfn_net_two_level"))
    assert isinstance(model, cls)
    frames = model.example_inputs(5, 7)
    assert len(frames) == len(model.input_names) and all(f.shape == (1, 3, 5, 7) for f in frames)
    with torch.no_grad():
        outputs = model(*frames)
    assert len(outputs) == len(model.output_names) == 3
    for output in outputs:
        assert output.shape == (1, 3, 20, 28) and torch.isfinite(output).all()


def test_single_level_bases_are_upsampled_keyframes_and_their_means():
    # With the decoder silenced, Eqs. 7, 9-11 leave Rep(·) pixel-shuffled: the raw RGB frames
    # (no normalisation, channel order kept) upsampled 4× by nearest neighbour, in time order.
    model = load("dsfn_net")
    zero_decoder_outputs(model.level1)
    frame0, frame1, frame2 = (torch.rand(1, 3, 4, 5) for _ in range(3))
    with torch.no_grad():
        interp01, sharp1, interp12 = model(frame0, frame1, frame2)
    assert torch.allclose(interp01, upsample((frame0 + frame1) / 2))
    assert torch.equal(sharp1, upsample(frame1))
    assert torch.allclose(interp12, upsample((frame1 + frame2) / 2))


def test_two_level_outputs_refine_the_central_level_one_maps():
    model = load("dsfn_net_two_level")
    zero_decoder_outputs(model.level1, model.level2)
    frames = [torch.rand(1, 3, 4, 5) for _ in range(4)]
    with torch.no_grad():
        sharp1, interp12, sharp2 = model(*frames)
    assert torch.allclose(sharp1, upsample(frames[1]))
    assert torch.allclose(interp12, upsample((frames[1] + frames[2]) / 2))
    assert torch.allclose(sharp2, upsample(frames[2]))


def test_first_level_runs_one_shared_network_on_both_triples_and_averages_the_overlap():
    two = load("dsfn_net_two_level", seed=3)
    single = DSFNNet().eval()
    single.level1.load_state_dict(two.level1.state_dict())
    frames = [torch.rand(1, 3, 6, 5) for _ in range(4)]
    with torch.no_grad():
        maps = [F.pixel_shuffle(m, 4) for m in two.first_level(*frames)]
        before = single(*frames[:3])
        after = single(*frames[1:])
    expected = (before[0], before[1], (before[2] + after[0]) / 2, after[1], after[2])
    for actual, wanted in zip(maps, expected):
        assert torch.allclose(actual, wanted, atol=1e-6)


def test_first_offset_field_warps_towards_the_earlier_frame():
    # Assumption 2 of the module docstring: TFBFI channels 0-17 are Φ1 (interp01), 18-35 Φ3.
    model = load("dsfn_net")
    frames = DSFNNet.example_inputs(6, 7)
    with torch.no_grad():
        reference = model(*frames)
        model.level1.tfbfi[-1].bias[:18] += 0.7
        moved = model(*frames)
    changed = [not torch.equal(a, b) for a, b in zip(moved, reference)]
    assert changed == [True, False, False]


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_file_loads_strictly(tmp_path, suffix):
    trained = load("dsfn_net", seed=5)
    path = tmp_path / f"dsfn{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(trained.state_dict(), path)
    else:
        torch.save(trained.state_dict(), path)
    loaded = load("dsfn_net", weights=path)
    frames = DSFNNet.example_inputs(5, 6)
    with torch.no_grad():
        for a, b, fresh in zip(loaded(*frames), trained(*frames), load("dsfn_net")(*frames)):
            assert torch.equal(a, b) and not torch.equal(a, fresh)


def test_two_level_weights_do_not_load_into_the_single_level_model(tmp_path):
    path = tmp_path / "two_level.pth"
    torch.save(DSFNTwoLevelNet().state_dict(), path)
    with pytest.raises(CheckpointError, match="unexpected keys: level2"):
        load("dsfn_net", weights=path)


def psnr(actual: np.ndarray, expected: np.ndarray) -> float:
    mse = float(np.mean((actual.astype(np.float64) - expected.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


@pytest.fixture(scope="module")
def two_level_export():
    return load("dsfn_net_two_level"), export_model("dsfn_net_two_level")


def assert_onnx_runtime_matches(model, onnx_model, frames):
    with torch.no_grad():
        expected = model(*frames)
    actual = ort_session(onnx_model).run(None, {n: f.numpy() for n, f in zip(model.input_names, frames)})
    for name, a, e in zip(model.output_names, actual, expected):
        assert a.shape == tuple(e.shape) and np.isfinite(a).all(), name
        assert psnr(a, e.numpy()) >= PARITY_PSNR_DB, name


@pytest.mark.slow
def test_export_keeps_size_dynamic_and_uses_the_standard_deform_conv(two_level_export):
    model, onnx_model = two_level_export
    graph = onnx_model.graph
    assert [v.name for v in graph.input] == list(model.input_names)
    assert [v.name for v in graph.output] == list(model.output_names)
    for value in graph.input:
        assert [d.dim_param for d in value.type.tensor_type.shape.dim[2:]] == ["height", "width"]
    # Two warps per level-1 window and per level 2, one ONNX node each.
    assert [(n.op_type, n.domain) for n in graph.node if "Deform" in n.op_type] == [("DeformConv", "")] * 6
    assert not onnx_model.functions
    assert_onnx_runtime_matches(model, onnx_model, model.example_inputs(7, 10))


def car_turn_clip(data_dir, count: int, height: int, width: int) -> list[torch.Tensor]:
    """`count` keyframes of car-turn.mp4 (every other frame from frame 20), downscaled bicubically."""
    import av

    frames = []
    with av.open(str(data_dir / "videos" / "car-turn.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= 20 and index % 2 == 0:
                rgb = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="BICUBIC")
                frames.append(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float() / 255)
            if len(frames) == count:
                return frames
    raise AssertionError(f"car-turn.mp4 has fewer than {count} keyframes after frame 20")


@pytest.mark.data
@pytest.mark.slow
def test_onnx_runtime_matches_pytorch_on_a_car_turn_clip(two_level_export, data_dir):
    model, onnx_model = two_level_export
    assert_onnx_runtime_matches(model, onnx_model, car_turn_clip(data_dir, 4, 45, 80))


def test_layer_with_zero_offsets_equals_conv2d_layer():
    torch.manual_seed(0)
    layer = DeformConv2d(4, 6, 3, padding=1)
    conv = torch.nn.Conv2d(4, 6, 3, padding=1)
    conv.load_state_dict(layer.state_dict())  # same keys and shapes as nn.Conv2d
    x = torch.rand(1, 4, 7, 5)
    assert torch.allclose(layer(x, torch.zeros(1, 18, 7, 5)), conv(x), atol=1e-6)
