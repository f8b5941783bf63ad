"""AdaCoF (Lee et al., CVPR 2020) and CDFI's compressed AdaCoF (Ding et al., CVPR 2021).

One U-Net builder serves the full and the pruned networks: only the width table differs
(reference/UPSTREAM.md §7, §8.2, Appendices C and D). CDFI's final model (`cdfi_net.py`) reuses
the builder and the preprocessing below.

Preprocessing, as upstream: RGB in [0, 1]; reflect-pad bottom/right to a multiple of 32; the
kernel estimator sees both frames minus the RGB mean (no std), the warps see the raw frames
replicate-padded by P = (F − 1)·D/2; the output is cropped back to the input size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from vfi.models.card import WRAPPED, ModelCard
from vfi.plugins.adacof import adacof

# Preprocessing facts, from AdaCoF-pytorch@6009ee99 (models/adacofnet.py AdaCoFNet.forward,
# utility.py moduleNormalize, interpolate_twoframe.py / TestModule.py) and CDFI@537291c7
# (models/compressed_adacof.py AdaCoFNet.forward, utility.py, mytest.py), checked against that code
# by tests/upstream/test_adacof_upstream.py:
# * input: `transforms.ToTensor()(Image.open(png))`, i.e. RGB in channel order R, G, B (no BGR
#   swap), float32 in [0, 1] (uint8 / 255); the scripts do nothing else before `model(f0, f1)`.
# * padding, inside forward: when H % 32 != 0, F.pad(..., mode='reflect') of 32 − H % 32 rows at the
#   bottom, then likewise columns at the right; the output is sliced back to [:H, :W].
# * normalisation: moduleNormalize subtracts the per-channel mean below from R, G, B; no division
#   by a std; only the kernel estimator (get_kernel) sees it.
# * warps: the padded, un-normalised frames through ReplicationPad2d of P = int((F − 1)·D / 2) on all
#   four sides, then FunctionAdaCoF (cupy_module/adacof.py; trunc offsets, clamped corners).
# * output: Occlusion · AdaCoF(frame0) + (1 − Occlusion) · AdaCoF(frame2), not clamped.
MEAN_RGB = (0.4631, 0.4352, 0.3990)  # utility.py moduleNormalize: R − 0.4631, G − 0.4352, B − 0.3990
PAD_MULTIPLE = 32  # adacofnet.py / compressed_adacof.py forward: `if h0 % 32 != 0: pad_h = 32 - (h0 % 32)`
# Reflect padding needs the pad to be smaller than the size it mirrors. Below 32 the pad is
# 32 − h, so h must exceed 16 (h = 16 would need a pad of 16); from 32 on it is always below h.
MIN_SIZE = 17

Widths = tuple[int, int, int]  # output channels of a block's three 3×3 convs


@dataclass(frozen=True)
class UNetWidths:
    """Channel widths of the kernel-estimation U-Net (`get_kernel`)."""

    encoder: tuple[Widths, ...]  # moduleConv1 … moduleConv5
    decoder: tuple[Widths, ...]  # moduleDeconv5 … moduleDeconv2
    # Head name (moduleWeight1 → "Weight1") → widths of its convs .0, .2, .4; the last conv .7
    # outputs F² channels for Weight/Alpha/Beta heads and 1 for Occlusion/Blend.
    heads: dict[str, Widths]


KERNEL_HEADS = ("Weight1", "Alpha1", "Beta1", "Weight2", "Alpha2", "Beta2")


def full_widths(kernel_size: int) -> UNetWidths:
    """The original AdaCoF widths, where the kernel heads' third conv already has F² channels."""
    taps = kernel_size * kernel_size
    return UNetWidths(
        encoder=((32,) * 3, (64,) * 3, (128,) * 3, (256,) * 3, (512,) * 3),
        decoder=((512,) * 3, (256,) * 3, (128,) * 3, (64,) * 3),
        heads={**{name: (64, 64, taps) for name in KERNEL_HEADS}, "Occlusion": (64, 64, 64)},
    )


# CDFI's pruned AdaCoF (models/compressed_adacof.py): fixed widths whatever F.
COMPRESSED_WIDTHS = UNetWidths(
    encoder=((24, 24, 24), (48, 48, 51), (99, 97, 94), (156, 142, 159), (92, 72, 121)),
    decoder=((99, 69, 36), (74, 83, 81), (83, 88, 72), (45, 47, 44)),
    heads={
        "Weight1": (51, 49, 21),
        "Alpha1": (50, 48, 20),
        "Beta1": (51, 50, 20),
        "Weight2": (50, 49, 20),
        "Alpha2": (50, 49, 20),
        "Beta2": (51, 50, 20),
        "Occlusion": (52, 51, 48),
    },
)


def _conv(channels_in: int, channels_out: int) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, kernel_size=3, stride=1, padding=1)


def _basic(channels_in: int, widths: Widths) -> nn.Sequential:
    a, b, c = widths
    return nn.Sequential(_conv(channels_in, a), nn.ReLU(), _conv(a, b), nn.ReLU(), _conv(b, c), nn.ReLU())


def _double() -> nn.Upsample:
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)


def _upsample(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(_double(), _conv(channels_in, channels_out), nn.ReLU())


def _head(name: str, channels_in: int, widths: Widths, taps: int) -> nn.Sequential:
    kind = name.rstrip("12")
    channels_out = 1 if kind in ("Occlusion", "Blend") else taps
    layers = [*_basic(channels_in, widths), _double(), _conv(widths[-1], channels_out)]
    if kind == "Weight":
        layers.append(nn.Softmax(dim=1))
    elif kind in ("Occlusion", "Blend"):
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class KernelEstimation(nn.Module):
    """SepConv's U-Net on the mean-subtracted frame pair, with one head per AdaCoF parameter map.
    Keys follow upstream (`moduleConv1.0`, `moduleUpsample5.1`, `moduleWeight1.7`, …)."""

    def __init__(self, widths: UNetWidths, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.head_names = tuple(widths.heads)
        channels = 6
        for level, block in enumerate(widths.encoder, 1):
            setattr(self, f"moduleConv{level}", _basic(channels, block))
            channels = block[-1]
        skips = [block[-1] for block in widths.encoder]
        for level, block in zip((5, 4, 3, 2), widths.decoder):
            setattr(self, f"moduleDeconv{level}", _basic(channels, block))
            # Back to the skip's width: the pruned networks change width here.
            setattr(self, f"moduleUpsample{level}", _upsample(block[-1], skips[level - 1]))
            channels = skips[level - 1]
        for name, block in widths.heads.items():
            setattr(self, f"module{name}", _head(name, channels, block, kernel_size * kernel_size))

    def forward(self, pair: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """Head outputs by name at the input's resolution, and the encoder outputs before
        pooling (c1 … c5, which CDFI's feature pyramid reads)."""
        encoder = []
        x = pair
        for level in range(1, 6):
            x = getattr(self, f"moduleConv{level}")(x)
            encoder.append(x)
            x = F.avg_pool2d(x, kernel_size=2, stride=2)
        for level in (5, 4, 3, 2):
            x = getattr(self, f"moduleUpsample{level}")(getattr(self, f"moduleDeconv{level}")(x)) + encoder[level - 1]
        return {name: getattr(self, f"module{name}")(x) for name in self.head_names}, encoder


class AdaCoFNet(nn.Module):
    """Interpolates the middle frame: Occ·AdaCoF(frame0) + (1 − Occ)·AdaCoF(frame1)."""

    def __init__(self, get_kernel: KernelEstimation, dilation: int):
        super().__init__()
        self.get_kernel = get_kernel
        self.dilation = dilation
        self.border = (get_kernel.kernel_size - 1) * dilation // 2
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1), persistent=False)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        height, width = frame0.shape[2:]
        frame0, frame1 = pad_to_multiple(frame0), pad_to_multiple(frame1)
        heads, encoder = self.get_kernel(torch.cat([frame0 - self.mean, frame1 - self.mean], 1))
        # narrow rather than a slice: the exported output's dims then stay `height` and `width`
        # instead of becoming Min(height, padded height).
        return self.synthesise(frame0, frame1, heads, encoder).narrow(2, 0, height).narrow(3, 0, width)

    def synthesise(self, frame0, frame1, heads, encoder) -> torch.Tensor:
        """The output at the padded size from the padded frames and the kernel estimator's
        outputs; CDFI overrides this."""
        warped0 = self.warp(self.replicate_pad(frame0), heads, 1)
        warped1 = self.warp(self.replicate_pad(frame1), heads, 2)
        occlusion = heads["Occlusion"]
        return occlusion * warped0 + (1 - occlusion) * warped1

    def replicate_pad(self, x: torch.Tensor) -> torch.Tensor:
        # Upstream's self.modulePad = ReplicationPad2d([kernel_pad] * 4), kernel_pad = int((F − 1)·D / 2).
        return F.pad(x, (self.border,) * 4, mode="replicate")

    def warp(self, padded: torch.Tensor, heads: dict[str, torch.Tensor], side: int) -> torch.Tensor:
        """AdaCoF with kernel set `side` (1 for frame0, 2 for frame1); Alpha offsets rows, Beta columns."""
        return adacof(padded, heads[f"Weight{side}"], heads[f"Alpha{side}"], heads[f"Beta{side}"], self.dilation)


def pad_to_multiple(frame: torch.Tensor) -> torch.Tensor:
    """Reflect-pad bottom and right to a multiple of 32 (nothing where already a multiple)."""
    # Upstream pads rows, then columns, in two F.pad(mode='reflect') calls; reflection is separable,
    # so one 2-D pad gives the same corner.
    height, width = frame.shape[2:]
    pad_h = (PAD_MULTIPLE - height % PAD_MULTIPLE) % PAD_MULTIPLE
    pad_w = (PAD_MULTIPLE - width % PAD_MULTIPLE) % PAD_MULTIPLE
    return F.pad(frame, (0, pad_w, 0, pad_h), mode="reflect")


def build(widths: UNetWidths, kernel_size: int, dilation: int) -> AdaCoFNet:
    return AdaCoFNet(KernelEstimation(widths, kernel_size), dilation)


def _card(
    name: str, summary: str, widths: UNetWidths, kernel_size: int, dilation: int, manifest: str, psnr: float
) -> ModelCard:
    return ModelCard(
        name=name,
        summary=summary,
        build=partial(build, widths, kernel_size, dilation),
        ops=("adacof",),
        pad_multiple=PAD_MULTIPLE,
        arbitrary_t=False,
        min_size=MIN_SIZE,
        checkpoint_manifest=manifest,
        checkpoint_layout=WRAPPED,
        published_middlebury_psnr=psnr,
        int8_psnr_threshold_db=INT8_PSNR_THRESHOLD_DB,
        int8_modelopt_psnr_threshold_db=MODELOPT_PSNR_THRESHOLD_DB_BY_DILATION[dilation],
    )


# INT8 variant vs fp32 PyTorch, seeded random weights (2026-11-21, docs/precision.md): 113.5-127.3 dB
# over these four models, the 12 Middlebury pairs (adacof_net) or Venus/Dimetrodon/Beanbags, and
# calibrations of 1 pair (min-max), 4 pairs (entropy) and 32 pairs (entropy); at most 1 LSB. With
# random weights the kernels barely depend on the quantized activations, so the output error is
# tiny; the threshold sits ~13 dB under the lowest value, low enough for pair-to-pair spread (8 dB
# over 12 pairs), far above what quantization reaching the output costs: frames through a symmetric
# int8 Q/DQ (step 1/127, e.g. one wrongly placed on a vfi:: input) are ~53 dB (10 log10(12 * 127^2)).
INT8_PSNR_THRESHOLD_DB = 100.0

# ModelOpt's INT8 variant (--quantizer modelopt) vs fp32, seeded random weights, 4-sample min-max
# calibration, 2026-12-06 (tools/compare_quantizers.py, docs/quantizers_cpu.json), over the 12
# Middlebury pairs, per dilation. D = 1 (adacof_net, compressed_adacof_net): 54.8-56.1 dB, at most
# 2 LSB, no loss against ground truth (<= 0.01 dB). Far under the `ort` variant's 111-127 dB:
# ModelOpt also quantizes the inputs of the Mul and Add that blend the two warped frames (the
# vfi::AdaCoF outputs) into the output, so the output carries an int8 step (symmetric int8 of a
# [0, 1] tensor: ~53-56 dB). D = 2 (the F11 D2 models): the same 56 dB on half the pairs, 37.1-47.9 dB
# and 9-12 LSB on the large-motion ones (MiniCooper lowest, Walking, Beanbags, DogDance,
# RubberWhale), still <= 0.06 dB lost against ground truth. Each threshold sits ~5 dB under its
# lowest value, with room for the parity tests' other calibration (one pair).
MODELOPT_PSNR_THRESHOLD_DB_BY_DILATION = {1: 50.0, 2: 32.0}

CARDS = (
    _card(
        "adacof_net", "AdaCoF, F = 5, D = 1 (21.8M parameters)",
        full_widths(5), 5, 1, "adacof_F5_D1", 35.72,
    ),
    _card(
        "adacof_net_f11d2", "AdaCoF+, F = 11, D = 2 (22.9M parameters; upstream's kernelsize_11 checkpoint, with D = 2)",
        full_widths(11), 11, 2, "adacof_F11_D2", 36.09,
    ),
    _card(
        "compressed_adacof_net", "CDFI's compressed AdaCoF, F = 5, D = 1 (2.45M parameters)",
        COMPRESSED_WIDTHS, 5, 1, "compressed_adacof_F5_D1", 35.43,
    ),
    _card(
        "compressed_adacof_net_f11d2", "CDFI's compressed AdaCoF+, F = 11, D = 2 (2.56M parameters)",
        COMPRESSED_WIDTHS, 11, 2, "compressed_adacof_F11_D2", 35.73,
    ),
)
