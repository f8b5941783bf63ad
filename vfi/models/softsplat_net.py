"""Softmax Splatting for Video Frame Interpolation (Niklaus & Liu, CVPR 2020), as the official
sniklaus/softmax-splatting `run.py` Network computes it (reference/UPSTREAM.md §5): a PWC-Net-like
flow estimator, then per time t a feature pyramid forward-warped by softmax splatting with a
learned importance metric and fused by a GridNet. Interpolates at any t in (0, 1).

Attribute names are upstream's, so that official checkpoints load strictly after the documented
`module` → `net` rename; the synthesis names contain spaces ("0x0 - 0x1") and are registered with
add_module.

Upstream runs every shared-weight stage (feature extractor, flow decoders, encoder, softmetric,
splatting) once per direction; here both directions go through it as one batch of 2N, frame one's
direction first. The arithmetic per element is the same, and the exported graph has 40% fewer
nodes (1007, not 1742), which shortens the export: torch.export's symbolic shape arithmetic over
the six ceil-halvings dominates it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfi.models.card import PLAIN, ModelCard
from vfi.models.correlation import correlation
from vfi.plugins.softsplat import softsplat

# Six halvings in the flow estimator: every level keeps at least one pixel (ceil rounding) and the
# correlation zero-pads, but backward warping divides by (size - 1), so the 1/32 level, the
# coarsest one that is warped, needs 2 pixels (size >= 33). 64 = 2**6 also makes every level a
# true halving; the checks in tests/models/test_softsplat_net.py run at this size.
MIN_SIZE = 64
EPS_STD = 1e-7  # added to the joint standard deviation before dividing (upstream)
METRIC_CLIP = 20.0  # softsplat importance exp(-Z) with -Z clipped to [-20, 20] (upstream)


def backwarp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `image` at (x + u, y + v): bilinear, zero outside the frame, align_corners=True, so
    pixel centres are exact (UPSTREAM.md §1.6)."""
    height, width = flow.shape[2:]
    x = torch.arange(width, dtype=flow.dtype, device=flow.device).view(1, 1, width)
    y = torch.arange(height, dtype=flow.dtype, device=flow.device).view(1, height, 1)
    # align_corners=True maps -1 and +1 to the centres of the first and last pixel.
    grid_x = (x + flow[:, 0]) * (2.0 / (width - 1)) - 1.0
    grid_y = (y + flow[:, 1]) * (2.0 / (height - 1)) - 1.0
    grid = torch.stack([grid_x, grid_y], dim=3)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def swap_halves(batch: torch.Tensor) -> torch.Tensor:
    """[a; b] -> [b; a] along the batch: each direction's counterpart."""
    first, second = batch.chunk(2)
    return torch.cat([second, first])


def resize_flow(flow: torch.Tensor, size) -> torch.Tensor:
    """Resize a flow field to `size`; upstream scales both components by the width ratio."""
    return resize(flow, size) * (size[1] / flow.shape[3])


# --- flow estimator ------------------------------------------------------------------------------

LEVELS = ("netFirst", "netSecond", "netThird", "netFourth", "netFifth", "netSixth")  # fine to coarse
FEATURES = (16, 32, 64, 96, 128, 192)
VOLUME = 81  # correlation channels, displacement ±4


def leaky_conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.LeakyReLU(0.1)]


class Extractor(nn.Module):
    """Six stride-2 stages shared by both frames; returns the features fine to coarse."""

    def __init__(self):
        super().__init__()
        for name, c_in, c_out in zip(LEVELS, (3, *FEATURES[:-1]), FEATURES):
            self.add_module(name, nn.Sequential(*leaky_conv(c_in, c_out, 2), *leaky_conv(c_out, c_out)))

    def forward(self, frame: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for name in LEVELS:
            frame = self._modules[name](frame)
            features.append(frame)
        return features


class Decoder(nn.Module):
    """Estimates a level's flow itself (not a residual) from [features, cost volume, upsampled flow]."""

    def __init__(self, c_in: int):
        super().__init__()
        widths = (c_in, 128, 128, 96, 64, 32)
        layers = [layer for a, b in zip(widths, widths[1:]) for layer in leaky_conv(a, b)]
        self.netMain = nn.Sequential(*layers, nn.Conv2d(32, 2, 3, 1, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.netMain(features)


class Flow(nn.Module):
    """PWC-Net-like coarse-to-fine flow (UPSTREAM.md §5.2), run both ways with the same weights."""

    def __init__(self):
        super().__init__()
        self.netExtractor = Extractor()
        for name, channels in zip(LEVELS, FEATURES):
            coarsest = name == LEVELS[-1]
            self.add_module(name, Decoder(channels + VOLUME + (0 if coarsest else 2)))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """For frames [one; two] (a batch of 2N), the flows [one → two; two → one] at the frames'
        resolution, in pixels (x, y)."""
        source = self.netExtractor(frames)
        target = [swap_halves(features) for features in source]
        flow = self._modules[LEVELS[-1]](torch.cat([source[-1], correlation(source[-1], target[-1])], 1))
        for level in range(len(LEVELS) - 2, -1, -1):
            a, b = source[level], target[level]
            flow = resize_flow(flow, a.shape[2:])
            volume = correlation(a, backwarp(b, flow))
            flow = self._modules[LEVELS[level]](torch.cat([a, volume, flow], 1))
        return resize_flow(flow, frames.shape[2:])


# --- synthesis -----------------------------------------------------------------------------------

ROWS = (32, 64, 96)  # GridNet channels at scales 1, 1/2, 1/4
COLUMNS = 6
METRIC_ROWS = (16, 32, 64, 96)  # the softmetric's small grid


def prelu_conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.PReLU(c_in, 0.25), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)]


class Basic(nn.Module):
    """A residual block: `relu-conv-relu-conv` (pre-activation) or `conv-relu-conv`; the skip is
    the identity when the channel count is kept, else a bias-free 1×1 `netShortcut`."""

    def __init__(self, kind: str, channels: tuple[int, int, int]):
        super().__init__()
        c0, c1, c2 = channels
        if kind == "relu-conv-relu-conv":
            self.netMain = nn.Sequential(*prelu_conv(c0, c1), *prelu_conv(c1, c2))
        elif kind == "conv-relu-conv":
            self.netMain = nn.Sequential(
                nn.Conv2d(c0, c1, 3, 1, 1, bias=False), nn.PReLU(c1, 0.25), nn.Conv2d(c1, c2, 3, 1, 1, bias=False)
            )
        else:
            raise ValueError(f"unknown block kind {kind!r}")
        self.netShortcut = None if c0 == c2 else nn.Conv2d(c0, c2, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.netMain(x) + (x if self.netShortcut is None else self.netShortcut(x))


class Downsample(nn.Module):
    def __init__(self, channels: tuple[int, int, int]):
        super().__init__()
        c0, c1, c2 = channels
        self.netMain = nn.Sequential(*prelu_conv(c0, c1, 2), *prelu_conv(c1, c2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.netMain(x)


class Upsample(nn.Module):
    """×2 bilinear upsampling, then convolutions; the caller crops to the finer row's size."""

    def __init__(self, channels: tuple[int, int, int]):
        super().__init__()
        c0, c1, c2 = channels
        self.netMain = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), *prelu_conv(c0, c1), *prelu_conv(c1, c2)
        )

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        # Upstream's crop rule: after an odd size was halved with ceil, drop the last row/column.
        return self.netMain(x)[:, :, : like.shape[2], : like.shape[3]]


def grid_name(row: int, col: int, to_row: int, to_col: int) -> str:
    return f"{row}x{col} - {to_row}x{to_col}"


class Encode(nn.Module):
    """Per-frame feature pyramid: [frame ‖ 32 ch] at full size (35 ch), 64 ch at 1/2, 96 ch at 1/4."""

    def __init__(self):
        super().__init__()

        def stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                nn.PReLU(c_out, 0.25),
                nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
                nn.PReLU(c_out, 0.25),
            )

        self.netOne = stage(3, 32, 1)
        self.netTwo = stage(32, 64, 2)
        self.netThr = stage(64, 96, 2)

    def forward(self, frame: torch.Tensor) -> list[torch.Tensor]:
        one = self.netOne(frame)
        two = self.netTwo(one)
        return [torch.cat([frame, one], 1), two, self.netThr(two)]


class Softmetric(nn.Module):
    """The importance metric Z from a frame and its backward-warping error (UPSTREAM.md §5.3)."""

    def __init__(self):
        super().__init__()
        self.netInput = nn.Conv2d(3, 12, 3, 1, 1, bias=False)
        self.netError = nn.Conv2d(1, 4, 3, 1, 1, bias=False)
        for row, channels in enumerate(METRIC_ROWS):
            self.add_module(grid_name(row, 0, row, 1), Basic("relu-conv-relu-conv", (channels,) * 3))
        for row in range(len(METRIC_ROWS) - 1):
            c0, c1 = METRIC_ROWS[row], METRIC_ROWS[row + 1]
            self.add_module(grid_name(row, 0, row + 1, 0), Downsample((c0, c1, c1)))
        for row in range(len(METRIC_ROWS) - 1, 0, -1):
            c0, c1 = METRIC_ROWS[row], METRIC_ROWS[row - 1]
            self.add_module(grid_name(row, 1, row - 1, 1), Upsample((c0, c1, c1)))
        self.netOutput = Basic("conv-relu-conv", (16, 16, 1))

    def forward(self, features: torch.Tensor, other: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Z for the full-resolution encoder `features` (frame ‖ 32 ch), whose `flow` points into
        the `other` frame's."""
        error = (features - backwarp(other, flow)).abs().mean(1, keepdim=True)
        rows = [torch.cat([self.netInput(features[:, :3]), self.netError(error)], 1)]
        for row in range(1, len(METRIC_ROWS)):
            rows.append(self._modules[grid_name(row - 1, 0, row, 0)](rows[-1]))
        for row in range(len(METRIC_ROWS) - 1, -1, -1):
            rows[row] = self._modules[grid_name(row, 0, row, 1)](rows[row])
            if row < len(METRIC_ROWS) - 1:
                rows[row] = rows[row] + self._modules[grid_name(row + 1, 1, row, 1)](rows[row + 1], rows[row])
        return self.netOutput(rows[0])


def splat(features: torch.Tensor, metric: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Softmax-splat [features ‖ Z] with importance exp(-Z), -Z clipped to [-20, 20]."""
    return softsplat(torch.cat([features, metric], 1), flow, (-metric).clip(-METRIC_CLIP, METRIC_CLIP), "soft")


class Warp(nn.Module):
    """Forward-warps both pyramids to time t and fuses each level (72/130/194 → 32/64/96 ch)."""

    def __init__(self):
        super().__init__()
        self.netOne = Basic("conv-relu-conv", (2 * (35 + 1), 32, 32))
        self.netTwo = Basic("conv-relu-conv", (2 * (64 + 1), 64, 64))
        self.netThr = Basic("conv-relu-conv", (2 * (96 + 1), 96, 96))

    def forward(self, encoded: list[torch.Tensor], metric: torch.Tensor, flow: torch.Tensor) -> list[torch.Tensor]:
        """`encoded`, `metric` and `flow` hold both frames as a batch of 2N; each level's result
        holds the two warped halves side by side in channels (frame one's first)."""
        levels = []
        for level, fuse in enumerate((self.netOne, self.netTwo, self.netThr)):
            if level > 0:
                # Chained: each level is resized from the previous one, not from full resolution.
                size = encoded[level].shape[2:]
                metric, flow = resize(metric, size), resize_flow(flow, size)
            warped = splat(encoded[level], metric, flow)
            levels.append(fuse(torch.cat(warped.chunk(2), 1)))
        return levels


class Synthesis(nn.Module):
    """Encoder, softmetric and warp, then a 3-row × 6-column GridNet (UPSTREAM.md §5.3)."""

    def __init__(self):
        super().__init__()
        self.netEncode = Encode()
        self.netSoftmetric = Softmetric()
        self.netWarp = Warp()
        for row, channels in enumerate(ROWS):
            for col in range(1, COLUMNS):
                self.add_module(grid_name(row, col - 1, row, col), Basic("relu-conv-relu-conv", (channels,) * 3))
        for col in range(COLUMNS // 2):
            for row in range(len(ROWS) - 1):
                c0, c1 = ROWS[row], ROWS[row + 1]
                self.add_module(grid_name(row, col, row + 1, col), Downsample((c0, c1, c1)))
        for col in range(COLUMNS // 2, COLUMNS):
            for row in range(len(ROWS) - 1, 0, -1):
                c0, c1 = ROWS[row], ROWS[row - 1]
                self.add_module(grid_name(row, col, row - 1, col), Upsample((c0, c1, c1)))
        self.netOutput = Basic("conv-relu-conv", (32, 32, 3))

    def forward(self, frames: torch.Tensor, flows: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The normalised BGR frame at time `t` [N,1,1,1] between the normalised frames [one; two]
        with flows [one → two; two → one]."""
        encoded = self.netEncode(frames)
        # Frame one is warped by t·F_fwd with Z1 = 2t·metric, frame two by (1−t)·F_bwd with
        # Z2 = 2(1−t)·metric (run.py Synthesis.forward: the metrics are computed from the unscaled
        # flows, then the flows are scaled; any float t, nothing special at 0.5).
        time = torch.cat([t, 1.0 - t])
        metric = self.netSoftmetric(encoded[0], swap_halves(encoded[0]), flows) * 2.0 * time
        rows = self.netWarp(encoded, metric, flows * time)

        for row in range(1, len(ROWS)):
            rows[row] = rows[row] + self._modules[grid_name(row - 1, 0, row, 0)](rows[row - 1])
        for col in range(1, COLUMNS):
            downwards = col < COLUMNS // 2
            order = range(len(ROWS)) if downwards else range(len(ROWS) - 1, -1, -1)
            for row in order:
                rows[row] = self._modules[grid_name(row, col - 1, row, col)](rows[row])
                if downwards and row > 0:
                    rows[row] = rows[row] + self._modules[grid_name(row - 1, col, row, col)](rows[row - 1])
                elif not downwards and row < len(ROWS) - 1:
                    rows[row] = rows[row] + self._modules[grid_name(row + 1, col, row, col)](rows[row + 1], rows[row])
        return self.netOutput(rows[0])


class SoftSplatNet(nn.Module):
    """forward(frame0, frame1, t): RGB [N,3,H,W] in [0, 1] and t [N] (or [1]) in (0, 1) -> RGB
    [N,3,H,W].

    Inside, as upstream's `estimate` and `Network.forward`: RGB → BGR, replicate padding on the
    right and bottom to even sizes, joint normalisation of both (padded) frames by their common
    mean and standard deviation, and the inverse of each step on the output.
    """

    def __init__(self):
        super().__init__()
        self.netFlow = Flow()
        self.netSynthesis = Synthesis()

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # Preprocessing as sniklaus/softmax-splatting run.py (checked against it with the same
        # weights in tests/upstream/test_softsplat_upstream.py):
        # * channel order and range: __main__ reverses PIL's RGB to BGR and scales by 1/255, so the
        #   network sees BGR in [0, 1]; the output is BGR, reversed back to RGB (flip(1) here).
        # * padding: estimate() replicate-pads right and bottom to even sizes,
        #   (2 - W % 2) % 2 and (2 - H % 2) % 2, and crops each output to [:H, :W].
        # * normalisation: Network.forward, per batch element, the joint mean and population std
        #   of both padded frames, (x - mean) / (std + 1e-7), undone on the output; no clamp.
        # * time: Network.forward estimates the flows once and runs Synthesis.forward once per t
        #   of its list (video mode: [0.25, 0.5, 0.75]); Synthesis scales them (see there).
        height, width = frame0.shape[2:]
        pad = (0, (2 - width % 2) % 2, 0, (2 - height % 2) % 2)
        one = F.pad(frame0.flip(1), pad, mode="replicate")
        two = F.pad(frame1.flip(1), pad, mode="replicate")

        mean, std = joint_statistics(one, two)
        one = (one - mean) / (std + EPS_STD)
        two = (two - mean) / (std + EPS_STD)

        frames = torch.cat([one, two])
        # A single t serves the whole batch, as upstream's float does.
        time = t.reshape(-1, 1, 1, 1).expand(frame0.shape[0], 1, 1, 1)
        out = self.netSynthesis(frames, self.netFlow(frames), time)
        return (out * std + mean)[:, :, :height, :width].flip(1)


def joint_statistics(one: torch.Tensor, two: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population standard deviation [N,1,1,1] of the union of both frames' values."""
    dims = (1, 2, 3)
    mean_one, mean_two = one.mean(dims, keepdim=True), two.mean(dims, keepdim=True)
    mean = (mean_one + mean_two) / 2
    variance = (
        one.var(dims, correction=0, keepdim=True)
        + (mean - mean_one).square()
        + two.var(dims, correction=0, keepdim=True)
        + (mean - mean_two).square()
    ) / 2
    return mean, variance.sqrt()


# INT8 variant vs fp32 PyTorch, seeded random weights, 1 calibration pair (min-max), all 12
# Middlebury pairs at t = 0.25, 0.5, 0.75, 2026-11-21 (VFI_PARITY_ALL_PAIRS=1): 52.3-59.3 dB,
# lowest on MiniCooper, at most 10 LSB (Urban2); fp16 74.4-82.6 dB. The lowest of the registered
# models: its 145 quantized convolutions (flow network, softmetric, encoder, GridNet) feed one
# another, and the splatting importance exp(-Z) of the predicted metric magnifies its errors. The
# threshold sits ~4 dB under the lowest value (spread over the 36 cases 7 dB); it is below what
# quantizing the output itself costs (~53 dB), so for this model the Q/DQ placement is checked by
# qdq_violations in the tests, not by this number.
INT8_PSNR_THRESHOLD_DB = 48.0

# ModelOpt's INT8 variant (--quantizer modelopt) vs fp32, seeded random weights, 4-sample min-max
# calibration, 2026-12-06 (tools/compare_quantizers.py, docs/quantizers_cpu.json): softsplat_net
# 45.0-53.6 dB over the 12 Middlebury pairs at t = 0.5 (lowest MiniCooper), at most 20 LSB, no loss
# against ground truth (-0.016 dB). ModelOpt quantizes 44 more tensors than the `ort` variant (Add,
# Resize, PRelu, Concat, Mul of the flow network, softmetric and GridNet), and the splatting
# importance exp(-Z) magnifies their errors. The threshold sits 5 dB under the lowest value, with
# room for the parity tests' other calibration (one pair).
INT8_MODELOPT_PSNR_THRESHOLD_DB = 40.0

CARDS = (
    ModelCard(
        name="softsplat_net",
        summary="Softmax Splatting (Niklaus & Liu, CVPR 2020): flow, softmax forward warping, GridNet; any t",
        build=SoftSplatNet,
        ops=("softsplat",),
        pad_multiple=2,
        arbitrary_t=True,
        min_size=MIN_SIZE,
        checkpoint_manifest="softsplat",
        checkpoint_layout=PLAIN,
        published_middlebury_psnr=38.42,
        int8_psnr_threshold_db=INT8_PSNR_THRESHOLD_DB,
        int8_modelopt_psnr_threshold_db=INT8_MODELOPT_PSNR_THRESHOLD_DB,
    ),
)
