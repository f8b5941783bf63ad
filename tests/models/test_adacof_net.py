"""AdaCoF, AdaCoF+ and CDFI's compressed AdaCoF: the official state_dict layout, checkpoint
loading, and the preprocessing facts that are easy to get wrong (RGB, mean subtracted for kernel
estimation only, reflect to ×32, replicate by P for the warp, crop back). The preprocessing tests
also run cdfi_net, which inherits this forward pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import vfi.models
from vfi.models import MODELS
from vfi.models.adacof_net import MEAN_RGB, MIN_SIZE
from vfi.frames.images import read_rgb

from checkpoint_helpers import frames, official_manifest, state_shapes, synthesised_state

ADACOF_MODELS = ["adacof_net", "adacof_net_f11d2", "compressed_adacof_net", "compressed_adacof_net_f11d2"]
# (kernel size F, dilation D) of every model with AdaCoF's forward pass.
GEOMETRY = {
    "adacof_net": (5, 1),
    "adacof_net_f11d2": (11, 2),
    "compressed_adacof_net": (5, 1),
    "compressed_adacof_net_f11d2": (11, 2),
    "cdfi_net": (11, 2),
}
PARAMETERS = {
    "adacof_net": 21_843_427,
    "adacof_net_f11d2": 22_933_219,
    "compressed_adacof_net": 2_452_094,
    "compressed_adacof_net_f11d2": 2_557_214,
}


def run(model: torch.nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(*inputs)


def force_heads(model, *, tap: int, alpha: float = 0.0, beta: float = 0.0, occlusion: float = 1.0):
    """Make the kernel estimator output one-hot kernels (weight 1 on `tap`), constant offsets,
    a constant occlusion mask and, for CDFI, Blend = 0 (the AdaCoF path only)."""

    def hook(module, inputs, outputs):
        heads, features = outputs
        forced = {}
        for name, value in heads.items():
            if name.startswith("Weight"):
                forced[name] = F.one_hot(torch.full_like(value[:, 0], tap, dtype=torch.long), value.shape[1]).permute(0, 3, 1, 2).float()
            elif name.startswith(("Alpha", "Beta")):
                forced[name] = torch.full_like(value, alpha if name.startswith("Alpha") else beta)
            else:
                forced[name] = torch.full_like(value, occlusion if name == "Occlusion" else 0.0)
        return forced, features

    return model.get_kernel.register_forward_hook(hook)


@pytest.mark.parametrize("name", ADACOF_MODELS)
def test_state_dict_equals_the_official_manifest(name):
    model = vfi.models.load(name)
    expected = official_manifest(name)
    assert state_shapes(model) == expected["state_dict"]
    assert list(state_shapes(model)) == list(expected["state_dict"])  # upstream's key order too
    assert sum(p.numel() for p in model.parameters()) == expected["parameters"] == PARAMETERS[name]


@pytest.mark.parametrize("name", ADACOF_MODELS)
def test_synthesised_official_checkpoint_loads_strictly(name, tmp_path):
    state = synthesised_state(official_manifest(name), scale=0.02)
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 1, "state_dict": state}, path)  # upstream's layout, keys as saved

    random_init = vfi.models.load(name, seed=0)
    loaded = vfi.models.load(name, weights=path, seed=0)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    inputs = frames(32, 32)
    changed = run(loaded, *inputs)
    assert torch.isfinite(changed).all()
    assert not torch.allclose(changed, run(random_init, *inputs))


@pytest.mark.parametrize("name", [*ADACOF_MODELS, "cdfi_net"])
def test_kernel_estimator_sees_reflect_padded_rgb_minus_mean(name):
    model = vfi.models.load(name)
    frame0, frame1 = frames(37, 45)
    seen = []
    model.get_kernel.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    run(model, frame0, frame1)

    mean = torch.tensor(MEAN_RGB).view(1, 3, 1, 1)  # R, G, B order: no BGR swap
    padded = [F.pad(f, (0, 64 - 45, 0, 64 - 37), mode="reflect") for f in (frame0, frame1)]
    (pair,) = seen
    assert pair.shape == (1, 6, 64, 64)
    torch.testing.assert_close(pair, torch.cat([padded[0] - mean, padded[1] - mean], 1), rtol=0, atol=0)


@pytest.mark.parametrize("name", [*ADACOF_MODELS, "cdfi_net"])
def test_centre_tap_reproduces_the_raw_frames(name):
    """Zero offsets on the centre tap read the frame itself: the warp sees the unnormalised
    frames, the occlusion mask weights frame0, and the crop returns the input's own pixels."""
    model = vfi.models.load(name)
    size, _ = GEOMETRY[name]
    frame0, frame1 = frames(37, 45)
    centre = (size * size) // 2
    with force_heads(model, tap=centre, occlusion=1.0):
        torch.testing.assert_close(run(model, frame0, frame1), frame0, rtol=0, atol=1e-6)
    with force_heads(model, tap=centre, occlusion=0.0):
        torch.testing.assert_close(run(model, frame0, frame1), frame1, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", [*ADACOF_MODELS, "cdfi_net"])
def test_warp_reads_a_replicate_padded_frame_with_taps_dilated(name):
    """Tap (0, 0) with zero offsets reads pixel (i − P, j − P) of the ×32 frame, clamped to its
    border (replicate, P = (F − 1)·D/2); alpha then moves rows and beta moves columns."""
    model = vfi.models.load(name)
    size, dilation = GEOMETRY[name]
    border = (size - 1) * dilation // 2
    frame0, frame1 = frames(32, 64)
    rows, cols = torch.arange(32), torch.arange(64)

    def expected(row_shift, col_shift):
        r = (rows + row_shift - border).clamp(0, 31)
        c = (cols + col_shift - border).clamp(0, 63)
        return frame0[:, :, r][:, :, :, c]

    with force_heads(model, tap=0):
        torch.testing.assert_close(run(model, frame0, frame1), expected(0, 0), rtol=0, atol=1e-6)
    with force_heads(model, tap=0, alpha=3.0, beta=-2.0):
        torch.testing.assert_close(run(model, frame0, frame1), expected(3, -2), rtol=0, atol=1e-6)
    # Tap (1, 0) sits D rows below tap (0, 0), tap (0, 1) D columns to the right.
    with force_heads(model, tap=size):
        torch.testing.assert_close(run(model, frame0, frame1), expected(dilation, 0), rtol=0, atol=1e-6)
    with force_heads(model, tap=1):
        torch.testing.assert_close(run(model, frame0, frame1), expected(0, dilation), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["compressed_adacof_net", "compressed_adacof_net_f11d2", "cdfi_net"])
@pytest.mark.parametrize("size", [(MIN_SIZE, MIN_SIZE), (37, 45), (64, 33), (20, 97)])
def test_output_keeps_any_size_from_min_size(name, size):
    output = run(vfi.models.load(name), *frames(*size))
    assert output.shape == (1, 3, *size)
    assert torch.isfinite(output).all()


def test_min_size_is_where_reflect_padding_stops_working():
    """Reflect padding needs pad < size: 17 rows pad by 15, 16 rows would need 16."""
    assert all(MODELS[name].min_size == MIN_SIZE == 17 for name in GEOMETRY)
    model = vfi.models.load("compressed_adacof_net")
    with pytest.raises(RuntimeError, match="[Pp]adding"):
        run(model, *frames(MIN_SIZE - 1, 32))


def test_batch_items_are_independent():
    model = vfi.models.load("compressed_adacof_net")
    frame0, frame1 = frames(33, 40, batch=2)
    batched = run(model, frame0, frame1)
    for i in range(2):
        torch.testing.assert_close(batched[i : i + 1], run(model, frame0[i : i + 1], frame1[i : i + 1]), rtol=0, atol=1e-5)


@pytest.mark.data
def test_real_middlebury_pair_padded_in_both_dimensions(data_dir):
    """Venus is 420×380: neither side is a multiple of 32."""
    venus = data_dir / "middlebury" / "Venus"
    frame0, frame1 = (torch.from_numpy(read_rgb(venus / name)) for name in ("frame10.png", "frame11.png"))
    output = run(vfi.models.load("compressed_adacof_net"), frame0, frame1)
    assert output.shape == frame0.shape == (1, 3, 380, 420)
    assert torch.isfinite(output).all()
