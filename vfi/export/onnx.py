"""Exporting PyTorch modules that use the custom ops to ONNX.

Exporter choice: the torch.export-based exporter (`torch.onnx.export(dynamo=True)`) with a
custom translation per op. It records the models' shape arithmetic (padding to a multiple,
cropping back) symbolically, so height and width stay dynamic, and the TorchScript exporter it
replaces is deprecated. tests/export/test_onnx_export.py pins the choice: the custom nodes,
their attributes and the dynamic dimensions of an exported model.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import onnx
import torch

from vfi.export.graph import strip_exporter_metadata
from vfi.fileio import replaced_on_success
from vfi.plugins import OPS
from vfi.plugins.onnx_function import OPSET, SUPPORTED_OPSETS
from vfi.plugins.onnx_model import attach_functions, check_model
from vfi.plugins.onnx_node import translation


def translation_table() -> dict:
    return {
        op.torch_op._opoverload: op.standard_onnx.translation if op.standard_onnx else translation(op.spec)
        for op in OPS
    }


def export_module(
    module: torch.nn.Module,
    args: tuple,
    input_names: list[str],
    output_names: list[str],
    dynamic_shapes,
    opset: int = OPSET,
) -> onnx.ModelProto:
    """Export `module` called on `args` with the custom ops as `vfi::` nodes plus bodies."""
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"opset {opset} is not supported; choose one of {', '.join(map(str, SUPPORTED_OPSETS))}")
    # The exporter logs a warning per torchvision op it cannot register; vfi needs none of them.
    registration_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration_log.level
    registration_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Two notices torch 2.13 prints on every export, about its own internals: H and W sharing
            # one constraint is what model_io asks for; the pytree deprecation is inside torch.export.
            warnings.filterwarnings("ignore", r"# The axis name: .* will not be used", UserWarning)
            warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning)
            program = torch.onnx.export(
                module,
                args,
                dynamo=True,
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=dynamic_shapes,
                custom_translation_table=translation_table(),
                opset_version=opset,
                verbose=False,
            )
    finally:
        registration_log.setLevel(level)
    model = strip_exporter_metadata(attach_functions(program.model_proto))
    check_model(model)
    return model


def save_model(model: onnx.ModelProto, path: str | os.PathLike) -> Path:
    """Write `model` to `path` through a temporary file in the same folder, renamed on success."""
    path = Path(path)
    with replaced_on_success(path) as tmp:
        onnx.save_model(model, tmp)
    return path


