"""Model cards: what the registry knows about each interpolation model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

PLAIN = "plain"  # sniklaus files: a bare state_dict whose keys say `module…`, renamed to `net…`
WRAPPED = "state_dict"  # AdaCoF / CDFI files: {"state_dict": …, "epoch": …}, keys as saved


@dataclass(frozen=True)
class ModelCard:
    name: str
    summary: str
    build: Callable[[], torch.nn.Module]  # the architecture with freshly initialised weights
    ops: tuple[str, ...]  # the custom ops the graph uses: names in vfi.plugins.OPS
    pad_multiple: int  # the model pads H and W up to a multiple of this internally
    arbitrary_t: bool  # forward(frame0, frame1, t) for any t in (0, 1); else the midpoint only
    min_size: int = 32  # smallest H and W it accepts (reflect padding, pyramids)
    checkpoint_manifest: str | None = None  # ../shared/checkpoints/<name>.json
    checkpoint_layout: str = WRAPPED
    # TensorRT optimisation profile: (height, width) min / opt / max.
    profile: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((64, 64), (720, 1280), (1088, 1920))
    published_middlebury_psnr: float | None = None  # mean over the 12 "other" sequences, dB
    # `vfi parity`: the PSNR (dB, every pair) the INT8 variant must keep against the fp32 reference;
    # set from measurement and justified where it is set. None: INT8 parity is reported, not enforced.
    int8_psnr_threshold_db: float | None = None
    # The same for the INT8 variant of `--quantizer modelopt`, whose placement quantizes more of the
    # graph (docs/precision.md); int8_psnr_threshold_db is the `ort` quantizer's.
    int8_modelopt_psnr_threshold_db: float | None = None
