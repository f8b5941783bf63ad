"""`DeformConv2d`, the layer DSFN warps features with, over the deform_conv op
(vfi/plugins/deform_conv: its contract, reference, torch op and ONNX representation)."""

from __future__ import annotations

import torch

from vfi.plugins.deform_conv import deform_conv2d


class DeformConv2d(torch.nn.Conv2d):
    """A convolution layer whose taps are displaced by per-pixel offsets: `forward(input,
    offset)` with `offset` [N,2·kH·kW,oH,oW]. Parameters, their initialisation and their
    state_dict keys are those of `torch.nn.Conv2d` (zero padding, one group)."""

    # No `groups` or `padding_mode`: the op has one group and zero padding only.
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=bias)

    def forward(self, input: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation)
