"""The metadata contract of an exported file (vfi.export.artifact): every writer uses its keys, and
ArtifactInfo reads what they wrote, old files included."""

from __future__ import annotations

import json

import pytest

from vfi.export import artifact
from vfi.export.artifact import ArtifactInfo, Precision


def test_files_written_before_a_key_existed_read_as_they_were_made():
    old = ArtifactInfo.from_metadata({})
    assert (old.precision, old.io_dtype, old.min_size, old.model, old.quantizer) == (Precision.FP32, "fp32", 1, None, None)
    int8 = {artifact.PRECISION: "int8", artifact.CALIBRATION: json.dumps({"method": "entropy"})}
    assert ArtifactInfo.from_metadata(int8).quantizer == "ort"  # written before the quantizer was recorded
    int8[artifact.CALIBRATION] = json.dumps({"quantizer": "modelopt"})
    assert ArtifactInfo.from_metadata(int8).quantizer == "modelopt"
    assert ArtifactInfo.from_metadata({artifact.PRECISION: "fp16", artifact.CALIBRATION: "{}"}).quantizer is None


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="'fp8' is not a valid Precision"):
        ArtifactInfo.from_metadata({artifact.PRECISION: "fp8"})


def test_precisions_print_and_compare_as_their_names():
    assert f"{Precision.FP16}" == str(Precision.FP16) == "fp16" == Precision.FP16
    assert [p.value for p in Precision] == ["fp32", "fp16", "int8"]


def test_an_export_carries_every_key_and_reads_back(monkeypatch):
    import onnx

    import vfi.export.model
    from vfi.export.graph import metadata
    from vfi.models import MODELS

    # The keys, not the graph: the export itself is tested in test_onnx_export.py (classic's takes minutes).
    monkeypatch.setattr(vfi.export.model, "export_module", lambda *args: onnx.ModelProto())
    model = vfi.export.model.export_model("classic")
    values = metadata(model)
    keys = [artifact.MODEL, artifact.VERSION, artifact.OPSET, artifact.PAD_MULTIPLE, artifact.MIN_SIZE,
            artifact.ARBITRARY_T, artifact.CHECKPOINT_SHA256, artifact.PRECISION, artifact.IO_DTYPE]
    assert sorted(values) == sorted(keys)
    info = ArtifactInfo.from_metadata(values)
    assert (info.model, info.precision, info.min_size) == ("classic", Precision.FP32, MODELS["classic"].min_size)
