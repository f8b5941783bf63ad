"""Every precision variant of every two-frame model (seeded random weights) against PyTorch fp32
on the 12 Middlebury pairs at native size, through `vfi parity`'s comparison: the fp32 file
>= 60 dB and the fp16 file >= 45 dB PSNR on every pair, no NaN/Inf anywhere; the INT8 file is
reported (`-s` prints every variant's numbers) and held to its card's int8_psnr_threshold_db
where the card sets one. INT8 is calibrated on pairs from the shared video and image sequence,
never on Middlebury."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vfi.calib.collect import collect
from vfi.export.model import export_model
from vfi.export.onnx import save_model
from vfi.export.precision import to_fp16
from vfi.export.quantize import to_int8
from vfi.models import MODELS, build
from vfi.runtime.parity import PSNR_THRESHOLDS_DB, load_pairs, open_runner, run_parity

TWO_FRAME_MODELS = [name for name, card in MODELS.items() if not hasattr(build(card), "example_inputs")]
CALIBRATION_PAIRS = 8


class Replay:
    """A backend whose outputs are computed once per input and replayed, so the PyTorch reference
    runs once per pair for all three variants."""

    def __init__(self, backend):
        self.backend, self.outputs, self.active = backend, {}, False

    @property
    def arbitrary_t(self):
        return self.backend.arbitrary_t

    def activate(self):
        if not self.active:
            self.backend.activate()
            self.active = True

    def infer(self, frame0, frame1, t):
        key = hashlib.sha256(frame0.tobytes() + frame1.tobytes() + (b"" if t is None else t.tobytes())).hexdigest()
        if key not in self.outputs:
            self.outputs[key] = self.backend.infer(frame0, frame1, t)
        return self.outputs[key]

    def close(self):
        pass  # kept for the next variant


@pytest.fixture(scope="module")
def calib(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("calib") / "pairs"
    collect([data_dir / "videos" / "car-turn.mp4", data_dir / "sequences" / "cdfi-img-seq"], folder, CALIBRATION_PAIRS)
    return folder


@pytest.fixture(scope="module")
def middlebury(data_dir):
    return load_pairs(data_dir / "middlebury")


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("name", TWO_FRAME_MODELS)
def test_precision_variants_match_pytorch_on_middlebury(name, calib, middlebury, tmp_path):
    fp32 = export_model(name)
    variants = {"fp32": fp32, "fp16": to_fp16(fp32), "int8": to_int8(fp32, calib)}
    reference = open_runner(name, threads=1)
    reference.backend = Replay(reference.backend)
    reports = {}
    for precision, model in variants.items():
        path = save_model(model, tmp_path / f"{name}.{precision}.onnx")
        reports[precision] = run_parity(reference, open_runner(str(path), threads=1), middlebury, keep_images=False)
        summary = reports[precision]["summary"]
        print(
            f"\n{name} {precision}: PSNR vs PyTorch min {summary['psnr_db_min']:.2f} dB, mean {summary['psnr_db_mean']:.2f} dB; "
            f"SSIM min {summary['ssim_min']:.6f}; max abs {summary['max_abs_error']:.3e}; max {summary['max_error_lsb']} LSB; "
            f"ground truth PSNR drop {summary['truth']['psnr_drop_db']:+.4f} dB"
        )
    for precision, report in reports.items():
        assert report["summary"]["pairs"] == len(middlebury) == 12
        assert report["failures"] == [], f"{name} {precision}: {report['failures']}"
        if precision in PSNR_THRESHOLDS_DB:
            assert report["threshold"]["psnr_db"] == PSNR_THRESHOLDS_DB[precision]
            assert report["summary"]["psnr_db_min"] >= PSNR_THRESHOLDS_DB[precision]
        assert np.isfinite(report["summary"]["ssim_min"])
