"""SepConv (Niklaus, Mai and Liu, ICCV 2017) and the SepConv-GAN generator, as configurations of
one module (reference/UPSTREAM.md §6 and Appendix B; seeds/sepconv-replication.txt,
seeds/sepconv-gan.txt).

The network, as upstream (`sepconv-slomo/run.py`, class `Network`):

- A U-Net on cat[one, two] (6 channels, frame one first). `netConv1` … `netConv5` are Basic
  blocks ([3×3 conv with bias + ReLU] × 3; keys `.0 .2 .4`) of widths 32, 64, 128, 256, 512,
  each but the first after a 2×2 average pool. The decoder pools c5 once more, then
  d5 = Upsample5(Deconv5(pool(c5))), d4 = Upsample4(Deconv4(d5 + c5)),
  d3 = Upsample3(Deconv3(d4 + c4)), d2 = Upsample2(Deconv2(d3 + c3)); Deconv widths 512→512,
  512→256, 256→128, 128→64; an Upsample block is bilinear ×2 with align_corners=True, a 3×3
  conv keeping the width and a ReLU (key `.1`). combine = d2 + c2 has 64 channels at half
  resolution.
- Four subnets `netVertical1`, `netVertical2`, `netHorizontal1`, `netHorizontal2` map combine
  to K = 51 channels at full resolution: conv 64→64, ReLU, conv 64→64, ReLU, conv 64→K, ReLU,
  bilinear ×2 (align_corners=True), conv K→K with no final activation (keys `.0 .2 .4 .7`). The
  kernels are raw conv outputs, never normalised.
- Output = sepconv(pad25(one), Ver1, Hor1) + sepconv(pad25(two), Ver2, Hor2): pad25 is a
  replicate pad by K // 2 = 25 on every side of the (already padded) frame; a plain sum, no
  mask, no normalisation, no clamp.

Preprocessing, as upstream `estimate()`: the frames are fed as BGR (PIL RGB reversed) in [0, 1]
with no normalisation, and replicate-padded before the network, by one of two modes:

- `improved` (upstream's default): nothing left or top; right and bottom up to the next
  multiple of 128 (640×480 → 640×512, 584×388 → 640×512).
- `paper`: 25 on every side first, then right and bottom up to the next multiple of 128
  (640×480 → 768×640).

The output is cropped back to the input size and turned back into RGB. Upstream asserts
W ≤ 1280 and H ≤ 720 ("works with larger images, we do not recommend it": a 51-tap kernel
covers ±25 pixels of motion, ever less of the frame as the resolution grows); this module takes
any size ≥ 1 (replicate padding has no minimum) and leaves that judgement to the caller.

Checkpoints: `network-l1.pytorch` (for quantitative evaluation; published Middlebury "other"
mean PSNR 35.85 dB with `improved` padding, 35.73 dB with `paper`) and `network-lf.pytorch`
(feature loss, for visuals; 35.16 / 35.03 dB) share this architecture. They are plain
state_dicts whose keys say `moduleConv1.0.weight`…, loaded with key.replace('module', 'net')
(layout PLAIN, manifest `sepconv`): 94 tensors, 21,675,452 parameters.

The SepConv-GAN generator (Yang, "Frame Interpolation by Extending SepConv with Generative
Adversarial Networks", 2024; seeds/sepconv-gan.txt). What the paper specifies:

- the generator is SepConv [9] "implemented with skip layers and pixel-wise subnetworks" and is
  not modified for the WGAN variant; the adversary is a separate CNN discriminator (64, 128,
  256, 512 channels, LeakyReLU, linear + sigmoid) that plays no part at inference;
- inputs are two frames converted to tensors "using Python Image Libraries", the output an RGB
  image I_0.5 (the midpoint only; videos are doubled, 60 → 120 fps);
- training on Vimeo-90k and ATD-12K triplets resized to 64×64, L1 + adversarial loss, Adam;
  inference on frames resized to 1280×720;
- Figure 1's caption lists encoder widths 32, 64, 128, 256, 512, "decoder" widths 256, 128, 64,
  32, ReLU after every convolution and four subnetworks "each with a ReLU activation layer".

What this configuration assumes where the paper is silent or only sketches:

- the architecture is SepConv's exactly, K = 51 included: the text says the generator follows
  [9] with its skip layers and pixel-wise subnetworks, and Figure 1 is captioned an adaptation
  drawn abstractly. Its decoder list (256, 128, 64, 32) is not [9]'s (512, 256, 128, 64) and,
  read literally, leaves no 64-channel stage to add to the 64-channel skip that feeds [9]'s
  subnets; "each with a ReLU" matches [9]'s subnets, whose ReLUs sit inside them, not after the
  last conv. The state_dict is therefore identical to `sepconv.json`, key for key and shape for
  shape, so the card carries that manifest and the PLAIN layout. No generator weights are
  published. The official l1/lf files load into it, but they were trained on BGR input: to use
  them, take `sepconv_net`;
- RGB in [0, 1], no normalisation: PIL images become tensors and the output is called RGB; the
  paper mentions no channel swap and no normalisation. (The author's public repository,
  needsaltforfries/AI_Interpolator, holds only the discarded pre-SepConv generator, whose
  notebook normalises to [-1, 1] with a tanh output; nothing says this carried over, and a
  SepConv output is a filtered copy of its input frames, so it keeps [9]'s [0, 1].)
- padding: replicate right/bottom (as `improved`) to the smallest multiple the U-Net needs,
  32 (five 2× poolings), rather than 128. The paper trained on unpadded 64×64 images, a multiple
  of 32 but not of 128, and says nothing about padding for other sizes (its 1280×720 inference
  size, 720 = 22.5 × 32, needs some). The inner replicate pad by K // 2 is SepConv's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from vfi.models.card import PLAIN, ModelCard
from vfi.plugins.sepconv import sepconv

KERNEL_SIZE = 51
UNET_MULTIPLE = 32  # five 2×2 poolings: the network's input must be a multiple of 32
PADDING_MODES = ("improved", "paper")
CHANNEL_ORDERS = ("bgr", "rgb")


@dataclass(frozen=True)
class SepConvConfig:
    """How the network sees its frames, and its kernel size.

    channel_order: the order the network is fed ("bgr" for the sniklaus checkpoints); the
      module's own I/O is RGB either way.
    padding: "improved" (right/bottom only) or "paper" (K // 2 on every side first).
    pad_multiple: the padded height and width are multiples of this (a multiple of 32).
    kernel_size: K, the taps of each 1-D kernel (odd, so that K // 2 pads on each side keep the size).
    """

    channel_order: str = "bgr"
    padding: str = "improved"
    pad_multiple: int = 128
    kernel_size: int = KERNEL_SIZE

    def __post_init__(self):
        if self.channel_order not in CHANNEL_ORDERS:
            raise ValueError(f"sepconv_net: channel_order must be one of {CHANNEL_ORDERS}, got {self.channel_order!r}")
        if self.padding not in PADDING_MODES:
            raise ValueError(f"sepconv_net: padding must be one of {PADDING_MODES}, got {self.padding!r}")
        if self.pad_multiple < UNET_MULTIPLE or self.pad_multiple % UNET_MULTIPLE:
            raise ValueError(f"sepconv_net: pad_multiple must be a positive multiple of {UNET_MULTIPLE}, got {self.pad_multiple}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"sepconv_net: kernel_size must be odd and positive, got {self.kernel_size}")


SEPCONV = SepConvConfig()
SEPCONV_PAPER = SepConvConfig(padding="paper")
SEPCONV_GAN = SepConvConfig(channel_order="rgb", pad_multiple=UNET_MULTIPLE)


def frame_padding(height, width, config: SepConvConfig = SEPCONV):
    """(left, right, top, bottom) replicate padding before the network, as upstream `estimate()`.

    Branch-free in the sizes, so it works on symbolic ones when exporting."""
    # sepconv-slomo/run.py estimate(): `--padding improved` (its default) pads nothing left/top;
    # `--padding paper` pads 25 (floor(51 / 2)) on all four sides first. Either way the padded
    # width and height are then rounded up to the next multiple of 128, the extra going right and
    # bottom, with mode='replicate' on both frames; the output is cropped back (a negative pad).
    border = config.kernel_size // 2 if config.padding == "paper" else 0
    m = config.pad_multiple
    right = border + (m - (width + 2 * border) % m) % m
    bottom = border + (m - (height + 2 * border) % m) % m
    return border, right, border, bottom


def _conv(channels_in: int, channels_out: int) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, kernel_size=3, stride=1, padding=1)


def _double() -> nn.Upsample:
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)


def _basic(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        _conv(channels_in, channels_out), nn.ReLU(),
        _conv(channels_out, channels_out), nn.ReLU(),
        _conv(channels_out, channels_out), nn.ReLU(),
    )


def _upsample(channels: int) -> nn.Sequential:
    return nn.Sequential(_double(), _conv(channels, channels), nn.ReLU())


def _subnet(taps: int) -> nn.Sequential:
    return nn.Sequential(
        _conv(64, 64), nn.ReLU(),
        _conv(64, 64), nn.ReLU(),
        _conv(64, taps), nn.ReLU(),
        _double(),
        _conv(taps, taps),  # no activation: the kernels are raw conv outputs
    )


def _pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=2, stride=2, count_include_pad=False)


class SepConvNet(nn.Module):
    """forward(frame0, frame1): RGB [N,3,H,W] in [0, 1], any H, W ≥ 1 → the middle frame, RGB,
    unclamped. Attribute names (and so state_dict keys) are upstream's after 'module' → 'net'."""

    def __init__(self, config: SepConvConfig = SEPCONV):
        super().__init__()
        self.config = config
        self.netConv1 = _basic(6, 32)
        self.netConv2 = _basic(32, 64)
        self.netConv3 = _basic(64, 128)
        self.netConv4 = _basic(128, 256)
        self.netConv5 = _basic(256, 512)
        self.netDeconv5 = _basic(512, 512)
        self.netDeconv4 = _basic(512, 256)
        self.netDeconv3 = _basic(256, 128)
        self.netDeconv2 = _basic(128, 64)
        self.netUpsample5 = _upsample(512)
        self.netUpsample4 = _upsample(256)
        self.netUpsample3 = _upsample(128)
        self.netUpsample2 = _upsample(64)
        self.netVertical1 = _subnet(config.kernel_size)
        self.netVertical2 = _subnet(config.kernel_size)
        self.netHorizontal1 = _subnet(config.kernel_size)
        self.netHorizontal2 = _subnet(config.kernel_size)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        for name, frame in (("frame0", frame0), ("frame1", frame1)):
            if frame.dim() != 4 or frame.shape[1] != 3:
                raise ValueError(f"sepconv_net: {name} must have shape [N,3,H,W] (RGB), got {list(frame.shape)}")
        if frame0.shape != frame1.shape:
            raise ValueError(f"sepconv_net: frame0 {list(frame0.shape)} and frame1 {list(frame1.shape)} differ in shape")
        height, width = frame0.shape[2:]
        left, right, top, bottom = frame_padding(height, width, self.config)
        one = F.pad(self._channels(frame0), (left, right, top, bottom), mode="replicate")
        two = F.pad(self._channels(frame1), (left, right, top, bottom), mode="replicate")
        # narrow rather than a slice: the exported output's dims stay `height` and `width`.
        output = self.interpolate_padded(one, two).narrow(2, top, height).narrow(3, left, width)
        return self._channels(output)

    def _channels(self, frame: torch.Tensor) -> torch.Tensor:
        """RGB ↔ the network's channel order (the swap is its own inverse)."""
        # sepconv-slomo/run.py __main__: frames are PIL RGB reversed to BGR ([:, :, ::-1]), scaled
        # by 1/255 to [0, 1], no mean or std; the output is reversed back before saving. Network()
        # sees BGR, so the official l1/lf weights need "bgr" here.
        return frame.flip(1) if self.config.channel_order == "bgr" else frame

    def interpolate_padded(self, one: torch.Tensor, two: torch.Tensor) -> torch.Tensor:
        """Upstream's `Network.forward`: frames already in the network's channel order and padded
        to a multiple of 32 → the middle frame at that size."""
        conv1 = self.netConv1(torch.cat([one, two], 1))
        conv2 = self.netConv2(_pool(conv1))
        conv3 = self.netConv3(_pool(conv2))
        conv4 = self.netConv4(_pool(conv3))
        conv5 = self.netConv5(_pool(conv4))
        deconv5 = self.netUpsample5(self.netDeconv5(_pool(conv5)))
        deconv4 = self.netUpsample4(self.netDeconv4(deconv5 + conv5))
        deconv3 = self.netUpsample3(self.netDeconv3(deconv4 + conv4))
        deconv2 = self.netUpsample2(self.netDeconv2(deconv3 + conv3))
        combine = deconv2 + conv2
        # sepconv-slomo/run.py Network.forward(): each (already padded) frame is replicate-padded
        # by floor(51 / 2) = 25 on every side for its sepconv; the two results are summed plainly.
        border = (self.config.kernel_size // 2,) * 4
        dot1 = sepconv(F.pad(one, border, mode="replicate"), self.netVertical1(combine), self.netHorizontal1(combine))
        dot2 = sepconv(F.pad(two, border, mode="replicate"), self.netVertical2(combine), self.netHorizontal2(combine))
        return dot1 + dot2


def _card(name: str, summary: str, config: SepConvConfig, psnr: float | None) -> ModelCard:
    return ModelCard(
        name=name,
        summary=summary,
        build=partial(SepConvNet, config),
        ops=("sepconv",),
        pad_multiple=config.pad_multiple,
        arbitrary_t=False,
        min_size=1,
        checkpoint_manifest="sepconv",
        checkpoint_layout=PLAIN,
        published_middlebury_psnr=psnr,
        int8_psnr_threshold_db=INT8_PSNR_THRESHOLD_DB,
        int8_modelopt_psnr_threshold_db=INT8_MODELOPT_PSNR_THRESHOLD_DB,
    )


# INT8 variant vs fp32 PyTorch, seeded random weights, 1-pair min-max calibration (2026-11-21,
# docs/precision.md): sepconv_net 78.6-82.4 dB on Venus, Dimetrodon, Beanbags and Urban2;
# sepconv_net_paper 79.5 dB and sepconv_gan_net 79.9 dB on Venus; at most 1 LSB. The threshold sits
# ~9 dB under the lowest value (the AdaCoF family spreads 8 dB over 12 pairs) and far above what
# quantization reaching the output costs: frames through a symmetric int8 Q/DQ (step 1/127) are ~53 dB.
INT8_PSNR_THRESHOLD_DB = 70.0

# ModelOpt's INT8 variant (--quantizer modelopt) vs fp32, seeded random weights, 4-sample min-max
# calibration, 2026-12-06 (tools/compare_quantizers.py, docs/quantizers_cpu.json): 76.8-82.4 dB over
# the 12 Middlebury pairs for all three models, at most 1 LSB, as the `ort` variant (ModelOpt adds
# Q/DQ on Resize, AveragePool and Add inside the U-Net, not on the output path), so the `ort`
# threshold holds, ~7 dB under the lowest value, with room for the parity tests' other calibration.
INT8_MODELOPT_PSNR_THRESHOLD_DB = 70.0

CARDS = (
    _card(
        "sepconv_net",
        "SepConv, K = 51, `improved` padding (21.7M parameters; official l1 and lf weights)",
        SEPCONV, 35.85,
    ),
    _card(
        "sepconv_net_paper",
        "SepConv, K = 51, the paper's padding: 25 on every side, then up to ×128 (official l1 and lf weights)",
        SEPCONV_PAPER, 35.73,
    ),
    _card(
        "sepconv_gan_net",
        "SepConv-GAN generator (Yang 2024): SepConv on RGB, padded to ×32; no published weights",
        SEPCONV_GAN, None,
    ),
)
