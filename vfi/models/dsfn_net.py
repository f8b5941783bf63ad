"""DSFN (Choi and Park, "Joint video enhancement with deblurring, super-resolution, and frame
interpolation network"): low-resolution, low-frame-rate, blurry video in; 4× larger, twice the
frame rate, deblurred video out. There is no official code or checkpoint; this follows the paper
(seeds/dsfn-joint-enhancement.txt), and every choice the paper leaves open is listed below.

Unlike the two-frame interpolators, DSFN takes three or four consecutive low-resolution frames
and returns three 4× frames, so each model class names its inputs and outputs
(`input_names`, `output_names`) and makes example inputs (`example_inputs(height, width)`).
Frames are RGB [N,3,h,w] in [0, 1], any h, w >= 1 (every convolution is 3×3 with zero padding
"same", so nothing is padded or cropped); outputs are RGB [N,3,4h,4w], unclamped. Input frame k
is the blurry keyframe at time 2k of the high-frame-rate output clock.

- `DSFNNet` (single level, paper Figure 3): forward(frame0, frame1, frame2) -> (interp01,
  sharp1, interp12): the frame halfway between frame0 and frame1, frame1 deblurred and
  super-resolved, the frame halfway between frame1 and frame2 (the TFBFI module's "two
  intermediate frames between three input keyframes"; no arbitrary t).
- `DSFNTwoLevelNet` (paper Figure 2, "Proposed" in Tables 1-3): forward(frame0, frame1, frame2,
  frame3) -> (sharp1, interp12, sharp2), i.e. the paper's (I_{t-2}, I_{t-1}, I_t) from
  (B_{t-4}, B_{t-2}, B_t, B_{t+2}). Sliding the window by one input frame and keeping
  (sharp1, interp12) from each window yields the whole doubled-rate sequence.

One level (`DSFNLevel`, Eqs. 2-11): the encoder turns the stacked inputs into f^L; the JDSR
module makes the central frame's deblurred, super-resolved map f_2^DSR (high-resolution detail
held in channels, at input scale); the TFBFI module predicts the offset fields (Φ1, Φ3) from f^L,
and a 3×3 deformable convolution warps f_2^DSR with each into f_1^DSR, f_3^DSR; one shared
decoder maps each to r²·3 = 48 channels and adds a base f^H,0; periodic shuffling (pixel
shuffle, r = 4) gives the images. Level 1 sees the three blurry frames (9 channels) with bases
Rep((B0+B2)/2), Rep(B2), Rep((B2+B4)/2). In the two-level model, the level-1 network runs on
frames (0, 1, 2) and on (1, 2, 3) with the same parameters (Figure 2: "the DSFN of the same
color shares the network parameters"; §3.7: "two DSFN1s of the first level share their
parameter values"), the two estimates of the frame between inputs 1 and 2 are averaged, and the
five 48-channel maps (240 channels) feed a second network with its own parameters (θ_enc,2,
θ_dec,2, …; its encoder has a different input width, so the levels cannot share), whose bases are
the three central level-1 maps (Eq. 8). The level-1 maps are what the paper's training loss
(Eq. 12) scores as well: `DSFNTwoLevelNet.first_level` returns them.

Widths from the paper (§4.3): SubModule(m) = one conv to m channels and two residual blocks;
encoder SubModule(64) – SubModule(128), JDSR SubModule(128) × 3, TFBFI SubModule(128) × 2,
decoder SubModule(64) and a conv to 3·r² channels; all kernels 3×3, stride 1, LeakyReLU(0.1).

Assumptions where the paper is silent (Figure 4, which draws the SubModule, is not in the text):
1. SubModule: conv → LeakyReLU → residual block → residual block; residual block x + conv(
   LeakyReLU(conv(x))), no activation after the sum (EDSR style).
2. The TFBFI module ends in a 3×3 conv 128 → 36 with no activation: channels 0-17 are Φ1, 18-35
   Φ3, each one offset group of (dy, dx) per tap, taps row-major (§5.4: "nine offset values for
   each location").
3. One deformable conv (3×3, 128 → 128, bias, padding 1, DCNv1 without mask) serves both offset
   fields, as Eq. 6 writes one DefConv for i = 1 and 3.
4. Rep(·) repeats each colour channel r² = 16 times in a row (channel c·16 + k = colour c), so
   that pixel_shuffle(Rep(B)) is B upsampled 4× by nearest neighbour.
5. Inputs are concatenated along channels in temporal order (frames, or level-1 maps); no
   normalisation, RGB order, every conv has a bias, PyTorch's default initialisation.
Parameter counts that follow: 4,945,044 per level-1 network (single level); 10,023,144 for two
levels (the paper's Table 3 says 10.9M, so some unstated layer is missing from the text).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfi.models.card import ModelCard
from vfi.models.deform_conv import DeformConv2d

SCALE = 4  # r, the super-resolution factor
RGB = 3
MAPS = RGB * SCALE * SCALE  # channels of a high-resolution map f^H at input scale
TAPS = 9  # 3×3 deformable kernel


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def _activation() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.1)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv(channels, channels)
        self.conv2 = _conv(channels, channels)
        self.activation = _activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.activation(self.conv1(x)))


class SubModule(nn.Sequential):
    """The paper's SubModule(m): one conv to m channels, then two residual blocks."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__(_conv(in_channels, channels), _activation(), ResidualBlock(channels), ResidualBlock(channels))


class DSFNLevel(nn.Module):
    """One DSFN: `forward(stacked, bases)` maps the channel-stacked inputs [N,in_channels,h,w]
    and the three base maps [N,48,h,w] to the high-resolution maps (f_1^H, f_2^H, f_3^H)."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.encoder = nn.Sequential(SubModule(in_channels, 64), SubModule(64, 128))
        self.jdsr = nn.Sequential(*(SubModule(128, 128) for _ in range(3)))
        self.tfbfi = nn.Sequential(SubModule(128, 128), SubModule(128, 128), _conv(128, 2 * 2 * TAPS))
        self.warp = DeformConv2d(128, 128, 3, padding=1)
        self.decoder = nn.Sequential(SubModule(128, 64), _conv(64, MAPS))

    def forward(self, stacked: torch.Tensor, bases: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        features = self.encoder(stacked)
        central = self.jdsr(features)
        offsets_before, offsets_after = self.tfbfi(features).chunk(2, 1)
        enhanced = (self.warp(central, offsets_before), central, self.warp(central, offsets_after))
        return tuple(self.decoder(f) + base for f, base in zip(enhanced, bases))


def _repeat(frame: torch.Tensor) -> torch.Tensor:
    """Rep(·), Eq. 10: each channel repeated r² times in a row, so pixel shuffling the result
    upsamples `frame` by nearest neighbour."""
    n, c, h, w = frame.shape
    return frame.unsqueeze(2).expand(n, c, SCALE * SCALE, h, w).reshape(n, c * SCALE * SCALE, h, w)


def _enhance_three(level: DSFNLevel, frame0, frame1, frame2) -> tuple[torch.Tensor, ...]:
    """Level 1 on three blurry keyframes: the maps (f_1^H,1, f_2^H,1, f_3^H,1), Eqs. 2, 7, 9, 10."""
    bases = (_repeat((frame0 + frame1) / 2), _repeat(frame1), _repeat((frame1 + frame2) / 2))
    return level(torch.cat([frame0, frame1, frame2], 1), bases)


def _shuffle(maps: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return tuple(F.pixel_shuffle(m, SCALE) for m in maps)


def _example_inputs(names: tuple[str, ...], height: int, width: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.rand(1, RGB, height, width, generator=generator) for _ in names)


class DSFNNet(nn.Module):
    """Single-level DSFN: three blurry low-resolution keyframes in, (interp01, sharp1, interp12)
    out at 4× their size (module docstring)."""

    input_names = ("frame0", "frame1", "frame2")
    output_names = ("interp01", "sharp1", "interp12")

    def __init__(self):
        super().__init__()
        self.level1 = DSFNLevel(3 * RGB)

    @classmethod
    def example_inputs(cls, height: int, width: int) -> tuple[torch.Tensor, ...]:
        return _example_inputs(cls.input_names, height, width)

    def forward(self, frame0, frame1, frame2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _shuffle(_enhance_three(self.level1, frame0, frame1, frame2))


class DSFNTwoLevelNet(nn.Module):
    """Two-level DSFN (the paper's full model): four blurry low-resolution keyframes in,
    (sharp1, interp12, sharp2) out at 4× their size (module docstring)."""

    input_names = ("frame0", "frame1", "frame2", "frame3")
    output_names = ("sharp1", "interp12", "sharp2")

    def __init__(self):
        super().__init__()
        self.level1 = DSFNLevel(3 * RGB)
        self.level2 = DSFNLevel(5 * MAPS)

    @classmethod
    def example_inputs(cls, height: int, width: int) -> tuple[torch.Tensor, ...]:
        return _example_inputs(cls.input_names, height, width)

    def first_level(self, frame0, frame1, frame2, frame3) -> tuple[torch.Tensor, ...]:
        """The five level-1 maps [N,48,h,w] at times between and at the inputs: halfway 0-1,
        frame1, halfway 1-2 (the mean of both windows' estimates), frame2, halfway 2-3."""
        before = _enhance_three(self.level1, frame0, frame1, frame2)
        after = _enhance_three(self.level1, frame1, frame2, frame3)
        return before[0], before[1], (before[2] + after[0]) / 2, after[1], after[2]

    def forward(self, frame0, frame1, frame2, frame3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        maps = self.first_level(frame0, frame1, frame2, frame3)
        return _shuffle(self.level2(torch.cat(maps, 1), maps[1:4]))


# Profiles are in input (low-resolution) pixels: 272×480 in is 1088×1920 out.
_PROFILE = ((16, 16), (180, 320), (272, 480))

# INT8 variant vs fp32 PyTorch, seeded random weights, calibrated on one run of four cdfi-img-seq
# frames downscaled 4x (min-max), checked on five 4-frame car-turn.mp4 clips at 90x160 (frames 0,
# 20, 40, 60, 77 on; 2026-11-21): every output 72.6-74.5 dB single level, 70.3-71.4 dB two levels,
# at most 1 LSB (fp16 78.8 dB). The threshold sits ~6 dB under the lowest value (the spread over
# clips is 0.2 dB, over outputs 1.9 dB) and ~11 dB above what quantizing the output itself costs
# (frames through a symmetric int8 Q/DQ, step 1/127: ~53 dB).
INT8_PSNR_THRESHOLD_DB = 64.0

# ModelOpt's INT8 variant (--quantizer modelopt) vs fp32, seeded random weights, 4-sample min-max
# calibration, 2026-12-06 (tools/compare_quantizers.py, docs/quantizers_cpu.json), on every output
# of four 4-frame car-turn.mp4 clips at 90x160: single level 51.5-53.2 dB (at most 12 LSB), two
# levels 47.3-49.9 dB (13 LSB). ModelOpt also quantizes the Adds of the residual blocks and the
# DeformConv inputs (the `ort` variant: convolutions only, 70.3-74.5 dB). Each threshold sits ~5 dB
# under its lowest value, with room for the parity tests' other calibration (one run of frames).
MODELOPT_PSNR_THRESHOLD_DB = {"dsfn_net": 46.0, "dsfn_net_two_level": 42.0}

CARDS = (
    ModelCard(
        name="dsfn_net",
        summary=(
            "DSFN, single level (4.9M parameters, no official weights): blurry low-resolution "
            "frame0..frame2 -> (interp01, sharp1, interp12), deblurred and 4x upscaled"
        ),
        build=DSFNNet,
        ops=("deform_conv",),
        pad_multiple=1,
        arbitrary_t=False,
        min_size=2,
        profile=_PROFILE,
        int8_psnr_threshold_db=INT8_PSNR_THRESHOLD_DB,
        int8_modelopt_psnr_threshold_db=MODELOPT_PSNR_THRESHOLD_DB["dsfn_net"],
    ),
    ModelCard(
        name="dsfn_net_two_level",
        summary=(
            "DSFN, two levels (10.0M parameters, no official weights): blurry low-resolution "
            "frame0..frame3 -> (sharp1, interp12, sharp2), deblurred and 4x upscaled"
        ),
        build=DSFNTwoLevelNet,
        ops=("deform_conv",),
        pad_multiple=1,
        arbitrary_t=False,
        min_size=2,
        profile=_PROFILE,
        int8_psnr_threshold_db=INT8_PSNR_THRESHOLD_DB,
        int8_modelopt_psnr_threshold_db=MODELOPT_PSNR_THRESHOLD_DB["dsfn_net_two_level"],
    ),
)
