"""CDFI (Ding et al., CVPR 2021), the final `cdfi_adacof` model: compressed AdaCoF (F = 11,
D = 2) plus a feature pyramid warped with both AdaCoF kernel sets, a GridNet synthesis network and
a path-selection mask that blends the two results (reference/UPSTREAM.md §8.3, Appendix E).

Preprocessing is AdaCoF's (`adacof_net.py`: `AdaCoFNet.forward`, shared), as tding1/CDFI at
537291c7 does it (checked against that code by tests/upstream/test_cdfi_upstream.py):
- Channel order and range: RGB, float in [0, 1], [N,3,H,W] — interpolate_twoframe.py feeds
  `transforms.ToTensor()(Image.open(...)).unsqueeze(0)`, i.e. 8-bit RGB / 255, nothing else.
- Padding: models/cdfi_adacof.py `CDFI_adacof.forward` reflect-pads bottom and right to a
  multiple of 32 (`F.pad(..., mode="reflect")`, height then width, only where not already a
  multiple); the output is cropped back to [0:h0, 0:w0].
- Normalisation: the kernel estimator alone sees `moduleNormalize(frame)` (utility.py): each
  frame minus the RGB mean (0.4631, 0.4352, 0.3990), no division by a std, frames concatenated
  frame0-first (`PrunedKernelEstimation.forward`: `torch.cat([rfield0, rfield2], 1)`).
- The frame warps see the raw padded frames replicate-padded by P = (F − 1)·D/2 = 10
  (`modulePad`); the pyramid levels are resized to that P-padded size and not padded (below).
- The output is not clamped inside the model (the script's `save_image` clamps when writing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfi.models.adacof_net import (
    KERNEL_HEADS,
    MIN_SIZE,
    PAD_MULTIPLE,
    AdaCoFNet,
    KernelEstimation,
    UNetWidths,
)
from vfi.models.card import WRAPPED, ModelCard

KERNEL_SIZE, DILATION = 11, 2

# PrunedKernelEstimation: close to, but not the same as, the compressed AdaCoF's widths.
CDFI_WIDTHS = UNetWidths(
    encoder=((24, 24, 24), (48, 48, 52), (99, 97, 95), (156, 142, 159), (92, 72, 121)),
    decoder=((99, 69, 36), (74, 83, 81), (83, 88, 72), (45, 45, 45)),
    heads={**{name: (52, 49, 21) for name in KERNEL_HEADS}, "Occlusion": (52, 52, 48), "Blend": (52, 52, 48)},
)
PYRAMID_WIDTHS = (4, 8, 12, 16, 20)  # 1×1 conv outputs on encoder levels 1 … 5
GRID_WIDTHS = (32, 64, 96)  # GridNet rows
GRID_COLUMNS = 6


class PyramidKernelEstimation(KernelEstimation):
    """The pruned U-Net plus the feature pyramid: a 1×1 conv on each encoder output, before
    pooling (so on the joint features of the mean-subtracted pair, not per frame)."""

    def __init__(self):
        super().__init__(CDFI_WIDTHS, KERNEL_SIZE)
        for level, (block, width) in enumerate(zip(CDFI_WIDTHS.encoder, PYRAMID_WIDTHS), 1):
            # padding=1 on a 1×1 kernel, as upstream: each map grows by 2 px, its outer ring the
            # bias alone, and is resized with that ring.
            setattr(self, f"module1by1_{level}", nn.Conv2d(block[-1], width, kernel_size=1, stride=1, padding=1))

    def forward(self, pair: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        heads, encoder = super().forward(pair)
        return heads, [getattr(self, f"module1by1_{level}")(x) for level, x in enumerate(encoder, 1)]


def _conv(channels_in: int, channels_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, kernel_size=3, stride=stride, padding=1)


class LateralBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.f = nn.Sequential(nn.PReLU(), _conv(channels_in, channels_out), nn.PReLU(), _conv(channels_out, channels_out))
        # Upstream projects a width change with a 3×3 conv (with bias), not the usual 1×1.
        self.conv = _conv(channels_in, channels_out) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x) + self.conv(x)


class DownSamplingBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.f = nn.Sequential(
            nn.PReLU(), _conv(channels_in, channels_out, stride=2), nn.PReLU(), _conv(channels_out, channels_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class UpSamplingBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.f = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.PReLU(),
            _conv(channels_in, channels_out),
            nn.PReLU(),
            _conv(channels_out, channels_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class GridNet(nn.Module):
    """DAIN-style GridNet, 3 rows × 6 columns (widths 32, 64, 96): the first three columns carry
    states down the rows, the last three up. PReLUs have a single parameter. Sizes divide evenly
    because the input is a multiple of 32, so nothing is cropped."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.lateral_init = LateralBlock(channels_in, GRID_WIDTHS[0])
        for row, width in enumerate(GRID_WIDTHS):
            for column in range(GRID_COLUMNS - 1):
                setattr(self, f"lateral_{row}_{column}", LateralBlock(width, width))
        for row, (wide, wider) in enumerate(zip(GRID_WIDTHS, GRID_WIDTHS[1:])):
            for column in range(GRID_COLUMNS // 2):
                setattr(self, f"down_{row}_{column}", DownSamplingBlock(wide, wider))
        for row, (wider, wide) in enumerate(zip(GRID_WIDTHS[1:], GRID_WIDTHS)):
            for column in range(GRID_COLUMNS // 2):
                setattr(self, f"up_{row}_{column}", UpSamplingBlock(wider, wide))
        self.lateral_final = LateralBlock(GRID_WIDTHS[0], channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top = self.lateral_init(x)
        middle = self.down_0_0(top)
        bottom = self.down_1_0(middle)
        for column in (0, 1):  # each row: its own lateral plus the row above, downsampled
            top = self._block("lateral", 0, column)(top)
            middle = self._block("down", 0, column + 1)(top) + self._block("lateral", 1, column)(middle)
            bottom = self._block("down", 1, column + 1)(middle) + self._block("lateral", 2, column)(bottom)
        for column in (2, 3, 4):  # each row: its own lateral plus the row below, upsampled
            bottom = self._block("lateral", 2, column)(bottom)
            middle = self._block("up", 1, column - 2)(bottom) + self._block("lateral", 1, column)(middle)
            top = self._block("up", 0, column - 2)(middle) + self._block("lateral", 0, column)(top)
        return self.lateral_final(top)

    def _block(self, kind: str, row: int, column: int) -> nn.Module:
        return getattr(self, f"{kind}_{row}_{column}")


class CDFINet(AdaCoFNet):
    def __init__(self):
        super().__init__(PyramidKernelEstimation(), DILATION)
        # Input: both warped frames and every pyramid level warped with both kernel sets.
        self.context_synthesis = GridNet(2 * (3 + sum(PYRAMID_WIDTHS)), 3)

    def synthesise(self, frame0, frame1, heads, pyramid) -> torch.Tensor:
        # models/cdfi_adacof.py CDFI_adacof.forward: `modulePad` (ReplicationPad2d, P = 10) on the
        # raw (not mean-subtracted) frames for tensorAdaCoF1/2 ...
        padded0, padded1 = self.replicate_pad(frame0), self.replicate_pad(frame1)
        # ... and each featConvN resized by F.interpolate(bilinear, align_corners=False) straight to
        # that P-padded size (`w, h = self.modulePad(frame0).shape[2:]`, i.e. height, width): no
        # replicate pad. The frame and the features of one side share Weight/Alpha/Beta 1 or 2.
        features = torch.cat(
            [F.interpolate(level, size=padded0.shape[2:], mode="bilinear", align_corners=False) for level in pyramid], 1
        )
        # The op works channel by channel, so a frame and the features it shares a kernel set
        # with are warped in one call.
        left = self.warp(torch.cat([padded0, features], 1), heads, 1)
        right = self.warp(torch.cat([padded1, features], 1), heads, 2)
        # GridNet's channel order is upstream's: A1, A2, F1L, F1R, …, F5L, F5R.
        parts = (3, *PYRAMID_WIDTHS)
        context = torch.cat([x for pair in zip(left.split(parts, 1), right.split(parts, 1)) for x in pair], 1)
        occlusion, blend = heads["Occlusion"], heads["Blend"]
        # Upstream: frame1_warp = Occ·A1 + (1 − Occ)·A2; frame1 = Blend·GridNet + (1 − Blend)·warp.
        warped = occlusion * left[:, :3] + (1 - occlusion) * right[:, :3]
        return blend * self.context_synthesis(context) + (1 - blend) * warped


# INT8 variant vs fp32 PyTorch, seeded random weights, 1 calibration pair (min-max), 2026-11-21:
# 61.9-66.7 dB on Venus, Beanbags, DogDance, Urban2, Walking (at most 2 LSB; fp16 83-88 dB). Lower
# than the AdaCoF models' 114-127 dB: CDFI's feature pyramid and GridNet feed quantized
# convolutions whose errors reach the output. The threshold sits ~4 dB under the lowest value
# (pair-to-pair spread 4.8 dB over those five) and ~5 dB above what quantization of the output
# itself costs (frames through a symmetric int8 Q/DQ, step 1/127: ~53 dB).
INT8_PSNR_THRESHOLD_DB = 58.0

# ModelOpt's INT8 variant (--quantizer modelopt) vs fp32, seeded random weights, 4-sample min-max
# calibration, 2026-12-06 (tools/compare_quantizers.py, docs/quantizers_cpu.json): cdfi_net
# 43.9-55.4 dB over the 12 Middlebury pairs (lowest MiniCooper), at most 8 LSB, no loss against
# ground truth (-0.01 dB). Lower and more spread than the `ort` variant's 60.6-64.8 dB in the same
# run: ModelOpt also quantizes the Add, Resize and blend inputs of the feature pyramid and of the
# output. The threshold sits ~4 dB under the lowest value, with room for the parity tests' other
# calibration (one pair).
INT8_MODELOPT_PSNR_THRESHOLD_DB = 40.0

CARDS = (
    ModelCard(
        name="cdfi_net",
        summary="CDFI: compressed AdaCoF+ (F = 11, D = 2) with feature pyramid, GridNet and path selection (4.98M parameters)",
        build=CDFINet,
        ops=("adacof",),
        pad_multiple=PAD_MULTIPLE,
        arbitrary_t=False,
        min_size=MIN_SIZE,
        checkpoint_manifest="cdfi_adacof_F11_D2",
        checkpoint_layout=WRAPPED,
        published_middlebury_psnr=37.14,
        int8_psnr_threshold_db=INT8_PSNR_THRESHOLD_DB,
        int8_modelopt_psnr_threshold_db=INT8_MODELOPT_PSNR_THRESHOLD_DB,
    ),
)
