"""The contract an exported ONNX file carries in its metadata_props: the keys, by name, and
`ArtifactInfo`, the typed view of them that the builder, the runtime and `vfi parity` read.

Files written before a key existed lack it; `ArtifactInfo.from_metadata` gives each missing key
the value those files had (fp32, I/O in fp32, minimum size 1, the `ort` quantizer for INT8).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum


class Precision(str, Enum):
    """An ONNX file's (and its engine's) precision: `vfi export --precision`."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"

    def __str__(self) -> str:
        return self.value


MODEL = "vfi.model"
VERSION = "vfi.version"
OPSET = "vfi.opset"
PAD_MULTIPLE = "vfi.pad_multiple"
MIN_SIZE = "vfi.min_size"
ARBITRARY_T = "vfi.arbitrary_t"
CHECKPOINT_SHA256 = "vfi.checkpoint_sha256"
PRECISION = "vfi.precision"
IO_DTYPE = "vfi.io_dtype"  # "fp32" or "fp16": the dtype of the graph's inputs and outputs
CALIBRATION = "vfi.calibration"  # INT8: JSON with the quantizer, its version, method and samples
FP32_REGIONS = "vfi.fp32_regions"  # fp16: JSON list of the op types kept in float32, and why
FP16_CONVERTER = "vfi.fp16_converter"  # fp16: the converter and its version


@dataclass(frozen=True)
class ArtifactInfo:
    model: str | None  # the registered model's name
    checkpoint_sha256: str | None  # or the random-weights identity
    precision: Precision
    io_dtype: str
    min_size: int
    quantizer: str | None  # INT8 only

    @classmethod
    def from_metadata(cls, values: dict[str, str]) -> ArtifactInfo:
        precision = Precision(values.get(PRECISION, Precision.FP32))
        quantizer = None
        if precision is Precision.INT8:
            quantizer = json.loads(values.get(CALIBRATION, "{}")).get("quantizer", "ort")
        return cls(
            model=values.get(MODEL),
            checkpoint_sha256=values.get(CHECKPOINT_SHA256),
            precision=precision,
            io_dtype=values.get(IO_DTYPE, "fp32"),
            min_size=int(values.get(MIN_SIZE, 1)),
            quantizer=quantizer,
        )
