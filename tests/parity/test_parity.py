"""`vfi parity`: the metrics of a pair, the data it reads, thresholds and exit codes, and the
JSON and self-contained HTML reports. Runs on the toy models (tests/runtime/toy_models.py)."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from clips import write_clip
from toy_models import run_vfi
from vfi.export.model import export_model
from vfi.export.onnx import save_model
from vfi.export.precision import to_fp16
from vfi.parity.compare import compare, run_parity
from vfi.parity.pairs import Pair, ParityError, load_pairs
from vfi.parity.report import format_number
from vfi.parity.runners import PSNR_THRESHOLDS_DB, Runner, check_comparable, open_runner

pytestmark = pytest.mark.usefixtures("toy_registered")
SIZE = (24, 32)


def image(seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((*SIZE, 3)) * 255).astype(np.uint8)


@pytest.fixture
def triplets(tmp_path):
    root = tmp_path / "triplets"
    for n, name in enumerate(("Alpha", "Beta")):
        (root / name).mkdir(parents=True)
        for k, file in enumerate(("frame10.png", "frame11.png", "frame10i11.png")):
            Image.fromarray(image(10 * n + k)).save(root / name / file)
    return root


def test_compare_measures_against_the_reference_and_the_truth():
    reference = np.full((1, 3, 16, 16), 0.5, np.float32)
    candidate = reference.copy()
    candidate[0, 0, 0, 0] = 0.5 + 3.4 / 255  # 3.4 levels off: 3 LSB after rounding
    candidate[0, 1, 0, 0] = np.nan
    truth = np.full((1, 3, 16, 16), 0.5, np.float32)
    row = compare(reference, candidate, truth)
    assert row["nonfinite"] == 1 and row["reference_nonfinite"] == 0
    assert row["max_abs_error"] == pytest.approx(0.5)  # NaN counted as 0
    assert row["max_error_lsb"] == 128
    mse = ((3.4 / 255) ** 2 + 0.25) / reference.size
    assert row["psnr_db"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    assert row["truth"]["reference_psnr_db"] == math.inf
    assert row["truth"]["psnr_drop_db"] == math.inf
    assert compare(reference, reference)["psnr_db"] == math.inf and "truth" not in compare(reference, reference)
    with pytest.raises(ParityError, match="differ in shape"):
        compare(reference, reference[..., :8])


def test_pairs_come_from_triplet_folders_videos_and_sequences(triplets, tmp_path):
    pairs = load_pairs(triplets)
    assert [p.name for p in pairs] == ["Alpha", "Beta"]
    np.testing.assert_array_equal(pairs[1].frame0[0].transpose(1, 2, 0), image(10) / np.float32(255))
    assert pairs[0].truth.shape == (1, 3, *SIZE)
    assert [p.name for p in load_pairs(triplets / "Beta")] == ["Beta"]  # one triplet folder
    frames = [np.full((*SIZE, 3), 10 * i, np.uint8) for i in range(10)]
    video = write_clip(tmp_path / "clip.mkv", frames)
    pairs = load_pairs(video, max_pairs=3)
    assert [p.name for p in pairs] == ["frame 0 → frame 1", "frame 4 → frame 5", "frame 8 → frame 9"]
    assert all(p.truth is None for p in pairs)
    sequence = tmp_path / "sequence"
    sequence.mkdir()
    for i in range(4):
        Image.fromarray(image(i)).save(sequence / f"{i:02d}.png")
    assert [p.name for p in load_pairs(sequence, max_pairs=8)] == ["00.png → 01.png", "01.png → 02.png", "02.png → 03.png"]


class Fixed:
    """A backend returning its frame0 plus a fixed offset."""

    arbitrary_t = False

    def __init__(self, offset: float):
        self.offset = offset

    def activate(self):
        pass

    def infer(self, frame0, frame1, t):
        return frame0 + np.float32(self.offset)

    def close(self):
        pass


def runner(precision: str, offset: float, model: str = "toy_mid", weights: str = "none (random weights, seed 0)") -> Runner:
    return Runner(f"{precision} runner", "ort", precision, model, weights, Fixed(offset))


def test_thresholds_come_from_the_precision_and_the_card(triplets, monkeypatch):
    from vfi.models import MODELS

    pairs = load_pairs(triplets)
    offset_50db = 10 ** (-50 / 20)  # a uniform error of this size is 50 dB
    fp16 = run_parity(runner("fp32", 0), runner("fp16", offset_50db), pairs, keep_images=False)
    assert fp16["threshold"]["psnr_db"] == PSNR_THRESHOLDS_DB["fp16"] == 45.0
    assert fp16["summary"]["psnr_db_min"] == pytest.approx(50.0, abs=0.01) and fp16["failures"] == []
    fp32 = run_parity(runner("fp32", 0), runner("fp32", offset_50db), pairs, keep_images=False)
    assert fp32["failures"] == [
        f"{name}: PSNR 50.00 dB < 60.00 dB (fp32 parity threshold (OPS.md) for toy_mid)" for name in ("Alpha", "Beta")
    ]
    no_truth = [Pair(p.name, p.frame0, p.frame1, None) for p in pairs]
    int8 = run_parity(runner("fp32", 0), runner("int8", 0.1), no_truth, keep_images=False)
    assert int8["threshold"] == {"psnr_db": None, "source": "no threshold: model card toy_mid sets no int8_psnr_threshold_db", "truth_drop_db": None}
    assert int8["failures"] == []
    monkeypatch.setitem(MODELS, "toy_mid", MODELS["toy_mid"].__class__(**{**MODELS["toy_mid"].__dict__, "int8_psnr_threshold_db": 30.0}))
    near_truth = [Pair(p.name, p.frame0, p.frame1, np.clip(p.frame0 + np.float32(0.01), 0, 1)) for p in pairs]
    int8 = run_parity(runner("fp32", 0), runner("int8", 0.1), near_truth, keep_images=False)
    assert int8["threshold"] == {"psnr_db": 30.0, "source": "int8_psnr_threshold_db of model card toy_mid", "truth_drop_db": 0.5}
    assert len(int8["failures"]) == 3 and "20.00 dB < 30.00 dB" in int8["failures"][0]
    assert int8["failures"][2].startswith("overall: the mean PSNR against ground truth drops")
    assert int8["summary"]["truth"]["psnr_drop_db"] > 10
    checkpoint = run_parity(runner("fp32", 0, weights="ab12"), runner("int8", 0.1, weights="ab12"), no_truth, keep_images=False)
    assert checkpoint["threshold"]["psnr_db"] is None and "measured with seeded random weights" in checkpoint["threshold"]["source"]
    assert checkpoint["failures"] == []
    unrelated = run_parity(runner("fp16", 0), runner("int8", 0.1), pairs, keep_images=False)
    assert unrelated["threshold"]["psnr_db"] is None and "the reference is fp16" in unrelated["threshold"]["source"]


def test_a_modelopt_int8_file_is_held_to_its_own_threshold(triplets, monkeypatch):
    from vfi.models import MODELS

    card = MODELS["toy_mid"]
    monkeypatch.setitem(MODELS, "toy_mid", card.__class__(**{**card.__dict__, "int8_psnr_threshold_db": 30.0,
                                                               "int8_modelopt_psnr_threshold_db": 15.0}))
    pairs = [Pair(p.name, p.frame0, p.frame1, None) for p in load_pairs(triplets)]
    modelopt = runner("int8", 0.1)  # 20 dB
    modelopt.quantizer = "modelopt"
    report = run_parity(runner("fp32", 0), modelopt, pairs, keep_images=False)
    assert report["threshold"]["psnr_db"] == 15.0 and report["failures"] == []
    assert report["threshold"]["source"] == "int8_modelopt_psnr_threshold_db of model card toy_mid"
    assert report["candidate"]["quantizer"] == "modelopt"
    ort = run_parity(runner("fp32", 0), runner("int8", 0.1), pairs, keep_images=False)
    assert ort["threshold"]["psnr_db"] == 30.0 and len(ort["failures"]) == 2


def test_runners_with_different_models_or_weights_are_refused():
    with pytest.raises(ParityError, match="different model"):
        check_comparable(runner("fp32", 0, "toy_mid"), runner("fp16", 0, "toy_blend"))
    with pytest.raises(ParityError, match="different weights"):
        check_comparable(
            Runner("a", "torch", "fp32", "toy_mid", "none (random weights, seed 0)", None),
            Runner("b", "ort", "fp32", "toy_mid", "none (random weights, seed 1)", None),
        )


def test_the_plugin_library_goes_only_to_engines_built_with_it(tmp_path):
    """`vfi parity a.engine b.engine --plugins LIB`: an engine built without plugins is opened
    without LIB (its sidecar check would refuse it), one built with them gets LIB."""
    from vfi.export.engine_sidecar import write_sidecar
    from vfi.fileio import sha256_of

    library = tmp_path / "libvfi_trt_plugins.so"
    library.write_bytes(b"plugins")
    key = {
        "onnx_sha256": "ab" * 32, "onnx_path": "toy_mid.onnx", "model": "toy_mid", "precision": "fp32",
        "profile": {"min": [16, 16], "opt": [32, 32], "max": [64, 64]}, "tensorrt_version": "10.13.0",
        "gpu_name": "NVIDIA H200", "compute_capability": "9.0", "vfi_version": "0.1.0",
    }
    engines = {}
    for name, plugin_sha256 in (("inlined", None), ("plugins", sha256_of(library))):
        engines[name] = tmp_path / f"{name}.engine"
        engines[name].write_bytes(f"serialized engine {name}".encode())
        write_sidecar(engines[name], {**key, "plugin_sha256": plugin_sha256})
    inlined, plugins = (open_runner(str(engines[name]), plugins=library) for name in ("inlined", "plugins"))
    assert (inlined.kind, inlined.precision, inlined.model) == ("trt", "fp32", "toy_mid")
    assert inlined.backend.plugins is None
    assert plugins.backend.plugins == library
    modelopt = tmp_path / "modelopt.engine"
    modelopt.write_bytes(b"serialized INT8 engine")
    write_sidecar(modelopt, {**key, "precision": "int8", "quantizer": "modelopt", "plugin_sha256": None})
    assert open_runner(str(modelopt)).quantizer == "modelopt" and inlined.quantizer is None  # picks its INT8 threshold


def test_report_numbers_never_read_minus_zero():
    assert format_number(-0.0001, 3) == "0.000" and format_number(-0.0006, 3) == "-0.001"
    assert format_number(math.inf) == "∞" and format_number(None) == "–" and format_number(7) == "7"


def test_pytorch_against_the_fp32_and_fp16_files(triplets, tmp_path):
    fp32 = export_model("toy_blend")
    for precision, model in (("fp32", fp32), ("fp16", to_fp16(fp32))):
        path = save_model(model, tmp_path / f"toy_blend.{precision}.onnx")
        report = run_parity(open_runner("toy_blend", threads=1), open_runner(str(path), threads=1), load_pairs(triplets))
        assert report["candidate"] == {
            "label": str(path), "backend": "ort", "precision": precision, "model": "toy_blend",
            "weights": "none (random weights, seed 0)",
        }
        assert report["failures"] == [] and report["summary"]["pairs"] == 2
        assert report["summary"]["psnr_db_min"] >= PSNR_THRESHOLDS_DB[precision]
        assert report["summary"]["nonfinite"] == 0 and report["summary"]["truth"]["psnr_drop_db"] == pytest.approx(0, abs=0.05)
    with pytest.raises(ParityError, match="different weights"):
        run_parity(open_runner("toy_blend", seed=1), open_runner(str(path)), load_pairs(triplets))


def test_cli_writes_json_and_a_self_contained_html_report(triplets, tmp_path):
    model = save_model(export_model("toy_mid"), tmp_path / "toy_mid.onnx")
    result = run_vfi("parity", "toy_mid", str(model), "--data", str(triplets), "--json", str(tmp_path / "r.json"),
                     "--html", str(tmp_path / "r.html"), "--threads", "1")
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "result: pass" in out and "thresholds: PSNR >= 60.00 dB per pair" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [row["pair"] for row in report["pairs"]] == ["Alpha", "Beta"]
    assert report["summary"]["psnr_db_min"] == "inf" or report["summary"]["psnr_db_min"] >= 60
    page = (tmp_path / "r.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # nothing outside the file
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 1 + 2 * 4  # the colour scale, then per pair reference, candidate, heat map, truth
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in images)
    assert page.count("<tr") == 3 + 2 + 3  # header and rows: runners, summary, pairs


def test_cli_fails_on_nan_and_says_where(triplets, tmp_path):
    model = save_model(export_model("toy_nan"), tmp_path / "toy_nan.onnx")
    result = run_vfi("parity", "toy_nan", str(model), "--data", str(triplets), "--threads", "1")
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert "vfi parity: FAIL: Alpha: NaN/Inf values: 2304 in the candidate, 2304 in the reference" in lines


def test_cli_errors_are_one_line(tmp_path):
    result = run_vfi("parity", "toy_mid", str(tmp_path / "missing.onnx"), "--data", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [f"vfi parity: error: {tmp_path / 'missing.onnx'}: no such ONNX file"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless Chromium: no `chromium` on PATH (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(triplets, tmp_path):
    """The check docs/precision.md describes, on a toy model: the page renders (not blank), its CSS
    applies (the green PASS badge), and its inline images decode (the heat map's colours)."""
    model = save_model(export_model("toy_mid"), tmp_path / "toy_mid.onnx")
    assert run_vfi("parity", "toy_mid", str(model), "--data", str(triplets), "--html", str(tmp_path / "r.html"), "--threads", "1").returncode == 0
    shot = tmp_path / "shot.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1400", f"--screenshot={shot}",
         (tmp_path / "r.html").as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (1400, 1200)
    colours = {tuple(c) for c in np.unique(pixels.reshape(-1, 3), axis=0)}
    assert len(colours) > 100  # text, tables and images, not a blank page
    assert (0x2E, 0x7D, 0x32) in colours  # the PASS badge: the inline stylesheet applied
    assert (252, 255, 164) in colours  # the colour scale's top end: the inline PNGs decoded
