"""The weight-free `classic` model: no parameters, the flow it estimates, the frames it makes, its
building blocks, and its export (dynamic size, one vfi::SoftSplat node, TV-L1 loops as ONNX Loop
nodes with no GridSample inside, ONNX Runtime = PyTorch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vfi.models import MODELS, load
from vfi.models.classic_net import BALANCED, BEST, FAST, QUALITY_MODELS, ClassicNet, median3x3, presharpen
from vfi.frames.synthetic import Scene, texture


def tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0).float() / 255


def psnr(output: torch.Tensor, truth: torch.Tensor) -> float:
    rounded = (output.clamp(0, 1) * 255).round() / 255
    mse = float(((rounded - truth) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


@pytest.fixture(scope="module")
def model():
    return load("classic")


@pytest.fixture(scope="module")
def scene():
    return Scene(320, 192, seed=3)


@pytest.mark.parametrize("name", QUALITY_MODELS.values())
def test_card_and_no_learned_weights(name):
    card, model = MODELS[name], load(name)
    assert card.arbitrary_t and card.ops == ("softsplat",) and card.checkpoint_manifest is None
    assert card.pad_multiple == model.schedule.pad_multiple == 32  # five pyramid levels below the input
    assert sum(p.numel() for p in model.parameters()) == 0
    assert model.state_dict() == {}


def test_quality_presets_order_the_tv_l1_work():
    """fast drops the finest level, best does more at the coarse ones; nothing else differs."""
    assert QUALITY_MODELS == {"fast": "classic-fast", "balanced": "classic", "best": "classic-best"}
    assert [load(name).schedule for name in QUALITY_MODELS.values()] == [FAST, BALANCED, BEST]
    assert (FAST.finest, BALANCED.finest, BEST.finest) == (2, 1, 1)
    assert FAST.levels == BALANCED.levels[:-1] and BEST.levels[-1] == BALANCED.levels[-1]

    def work(schedule):  # primal-dual iterations weighted by their level's share of the input's pixels
        coarsest = len(schedule.levels) + schedule.finest - 1  # that level is 1/2**coarsest of the input
        return sum(warps * iterations * 4.0 ** (level - coarsest) for level, (warps, iterations) in enumerate(schedule.levels))

    assert work(FAST) < work(BALANCED) < work(BEST)


def test_median3x3_is_the_exact_median_with_ties():
    generator = torch.Generator().manual_seed(0)
    for values in (torch.randn(2, 2, 9, 13, generator=generator), torch.randint(0, 3, (1, 2, 7, 6), generator=generator).float()):
        padded = F.pad(values, (1, 1, 1, 1), mode="replicate")
        height, width = values.shape[2:]
        windows = torch.stack([padded[:, :, i : i + height, j : j + width] for i in range(3) for j in range(3)])
        assert torch.equal(median3x3(values), windows.median(0).values)


def test_presharpen_undoes_only_fractional_shifts():
    frames = torch.rand(1, 3, 8, 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(presharpen(frames, torch.full((1, 2, 8, 10), 3.0)), frames)  # whole pixels: no blur to undo
    half = presharpen(frames, torch.full((1, 2, 8, 10), 0.5))
    padded = F.pad(frames, (1, 1, 1, 1), mode="replicate")
    laplacian = 4 * frames - padded[:, :, 1:-1, :-2] - padded[:, :, 1:-1, 2:] - padded[:, :, :-2, 1:-1] - padded[:, :, 2:, 1:-1]
    # a = gain · f(1 − f) / 2 with f = 1/2 and gain 1.5
    torch.testing.assert_close(half, frames + 1.5 / 8 * laplacian)


@pytest.mark.parametrize("schedule", [FAST, BALANCED, BEST], ids=list(QUALITY_MODELS))
@pytest.mark.parametrize("gain, offset", [(1.0, 0.0), (1.3, 0.05), (0.7, -0.05)])
def test_flow_recovers_a_translation_also_under_a_brightness_change(gain, offset, schedule):
    """Measured mean errors 0.13-0.21 px in every case; without the luminance normalisation a
    gain of 1.3 gives errors of 28-77 px."""
    rng = np.random.default_rng(0)
    image = torch.from_numpy(texture(rng, 120, 160)).permute(2, 0, 1).unsqueeze(0).float()
    shift = torch.tensor([3.25, -1.5]).view(2, 1, 1)  # x, y pixels
    frame0 = image[:, :, 20:100, 20:140]
    y, x = torch.meshgrid(torch.arange(20, 100.0), torch.arange(20, 140.0), indexing="ij")
    grid = torch.stack([(x - shift[0] + 0.5) / 160 * 2 - 1, (y - shift[1] + 0.5) / 120 * 2 - 1], -1).unsqueeze(0)
    frame1 = F.grid_sample(image, grid, align_corners=False) * gain + offset  # content moved by `shift`
    net = ClassicNet(schedule)
    luma = (torch.cat([frame0, frame1]) * net.luma).sum(1, keepdim=True)
    flow = net.flow(luma, 1)[:, :, 10:-10, 10:-10]  # away from content entering the frame
    assert float((flow[0] - shift).abs().mean()) < 0.3
    assert float((flow[1] + shift).abs().mean()) < 0.3


@pytest.mark.parametrize("name", QUALITY_MODELS.values())
def test_interpolates_a_synthetic_scene_far_better_than_blending(name, scene):
    """The scene's objects occlude each other and leave the frame; its frames at fractional
    times are the truth. Measured at these times: 30.8-32.9 dB against 22.3-25.8 dB for the
    linear blend."""
    model = load(name)
    for start, t in ((4.0, 0.5), (9.0, 0.5), (9.0, 0.25)):
        frame0, frame1, truth = (tensor(scene.frame(time)) for time in (start, start + 1, start + t))
        with torch.no_grad():
            output = model(frame0, frame1, torch.tensor([t]))
        blend = (1 - t) * frame0 + t * frame1
        assert psnr(output, truth) > psnr(blend, truth) + 5, (start, t)
        assert psnr(output, truth) > 28, (start, t)


def test_odd_sizes_batches_and_times_near_the_ends(model, scene):
    frames = [tensor(scene.frame(time))[:, :, 3:40, 5:58] for time in (2.0, 3.0, 6.0, 7.0)]  # 37x53
    frame0 = torch.cat([frames[0], frames[2]])
    frame1 = torch.cat([frames[1], frames[3]])
    t = torch.tensor([0.001, 0.999])
    with torch.no_grad():
        batch = model(frame0, frame1, t)
        single = model(frame0[1:], frame1[1:], t[1:])
    assert batch.shape == frame0.shape and torch.isfinite(batch).all()
    torch.testing.assert_close(batch[1:], single, atol=1e-5, rtol=0)  # pairs do not influence each other
    assert psnr(batch[:1], frame0[:1]) > 45  # t → 0: the first frame
    assert psnr(batch[1:], frame1[1:]) > 45  # t → 1: the second frame


@pytest.mark.slow
def test_export_has_dynamic_size_a_splat_per_direction_and_loops_and_matches_pytorch(model, scene):
    """About a minute: the TV-L1 iterations are ONNX Loops, so the graph stays small."""
    import onnx

    from vfi.export.model import export_model
    from vfi.plugins.onnx_model import ort_session

    exported = export_model("classic")
    graph = exported.graph
    assert [n.op_type for n in graph.node if n.domain == "vfi"] == ["SoftSplat", "SoftSplat"]
    loops = [n for n in graph.node if n.op_type == "Loop"]
    assert loops
    for loop in loops:  # the exporter leaves GridSample's opset-16 mode name inside Loop bodies
        body = onnx.helper.get_attribute_value(loop.attribute[0])
        assert "GridSample" not in {n.op_type for n in body.node}
    for value in graph.input[:2]:
        assert [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim][2:] == ["height", "width"] or all(
            d.dim_param for d in value.type.tensor_type.shape.dim[2:]
        )
    session = ort_session(exported)
    for height, width, t in ((192, 320, 0.5), (61, 77, 0.3)):
        frame0, frame1 = (tensor(scene.frame(time))[:, :, :height, :width] for time in (5.0, 6.0))
        with torch.no_grad():
            expected = model(frame0, frame1, torch.tensor([t])).numpy()
        (actual,) = session.run(None, {"frame0": frame0.numpy(), "frame1": frame1.numpy(), "t": np.array([t], np.float32)})
        assert actual.shape == expected.shape
        assert 10 * math.log10(1 / float(((actual - expected) ** 2).mean())) >= 60
