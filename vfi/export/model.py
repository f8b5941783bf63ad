"""`vfi export`: a registered model to one ONNX file with named I/O, dynamic H and W, metadata."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch

import vfi
from vfi.export import artifact
from vfi.export.artifact import Precision
from vfi.export.onnx import export_module, save_model
from vfi.models import build, get_card
from vfi.models.card import ModelCard
from vfi.models.weights import load_weights, random_weights_identity
from vfi.plugins.onnx_function import OPSET


def model_io(card: ModelCard, module: torch.nn.Module):
    """(input names, output names, example inputs, dynamic shapes) of a model's exported graph.

    Two-frame models take frame0, frame1 (and t when they support any t); a model with other
    I/O (DSFN) declares `input_names`, `output_names` and `example_inputs(height, width)`."""
    # An odd example size keeps the padding arithmetic general while tracing.
    height = max(card.min_size, 64) + 5
    width = height + 18
    if hasattr(module, "example_inputs"):
        inputs, outputs = list(module.input_names), list(module.output_names)
        example = tuple(module.example_inputs(height, width))
    else:
        inputs, outputs = ["frame0", "frame1"], ["output"]
        example = (torch.rand(1, 3, height, width), torch.rand(1, 3, height, width))
        if card.arbitrary_t:
            inputs.append("t")
            example += (torch.full((1,), 0.5),)
    h = torch.export.Dim("height", min=card.min_size, max=4096)
    w = torch.export.Dim("width", min=card.min_size, max=4096)
    dynamic = {name: ({2: h, 3: w} if tensor.dim() == 4 else None) for name, tensor in zip(inputs, example)}
    return inputs, outputs, example, dynamic


def export_model(name: str, weights: str | Path | None = None, seed: int = 0, opset: int = OPSET) -> onnx.ModelProto:
    """Export the registered model `name` with the official `weights` (or seeded random ones)."""
    card = get_card(name)
    module = build(card, seed)
    digest = load_weights(module, card, weights) if weights is not None else None
    inputs, outputs, example, dynamic = model_io(card, module)
    model = export_module(module, example, inputs, outputs, dynamic, opset)
    metadata = {
        artifact.MODEL: card.name,
        artifact.VERSION: vfi.__version__,
        artifact.OPSET: str(opset),
        artifact.PAD_MULTIPLE: str(card.pad_multiple),
        artifact.MIN_SIZE: str(card.min_size),
        artifact.ARBITRARY_T: str(card.arbitrary_t).lower(),
        artifact.CHECKPOINT_SHA256: digest or random_weights_identity(seed),
        artifact.PRECISION: Precision.FP32.value,  # vfi.export.precision and .quantize rewrite these two
        artifact.IO_DTYPE: "fp32",
    }
    onnx.helper.set_model_props(model, metadata)
    return model
