"""`vfi parity` in Polygraphy's formats: --save-inputs and --save-outputs files that Polygraphy's
loaders and `polygraphy run` read, --load-inputs on a file made by Polygraphy's own helpers, the
refusal of bad files, and of the options where Polygraphy is missing. Runs on the toy models
(tests/runtime/toy_models.py); the tests that need Polygraphy skip without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from toy_models import run_vfi
from vfi.cli import main
from vfi.export.model import export_model
from vfi.export.onnx import save_model
from vfi.parity.compare import run_parity
from vfi.parity.pairs import ParityError, feed, load_pairs
from vfi.parity.runners import open_runner
from vfi.parity.polygraphy_files import load_inputs, require_polygraphy, save_inputs, save_outputs

pytestmark = pytest.mark.usefixtures("toy_registered")
SIZE = (16, 24)
MIDPOINT = np.array([0.5], np.float32)


@pytest.fixture
def polygraphy():
    return pytest.importorskip(
        "polygraphy", reason="needs Polygraphy for its JSON formats: the polygraphy package is not installed (pip install polygraphy)"
    )


@pytest.fixture
def sequence(tmp_path):
    """Three random images: the image sequence of two pairs, without ground truth."""
    folder = tmp_path / "sequence"
    folder.mkdir()
    for i in range(3):
        Image.fromarray((np.random.default_rng(i).random((*SIZE, 3)) * 255).astype(np.uint8)).save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture
def blend_onnx(tmp_path):
    return save_model(export_model("toy_blend"), tmp_path / "toy_blend.onnx")


def frames(seed: int, size: tuple[int, int] = SIZE) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.random((1, 3, *size), dtype=np.float32) for name in ("frame0", "frame1")}


def test_saved_files_load_with_polygraphy_and_hold_what_vfi_computed(polygraphy, sequence, blend_onnx, tmp_path):
    from polygraphy.comparator import RunResults
    from polygraphy.json import load_json

    pairs = load_pairs(sequence)
    report = run_parity(open_runner("toy_blend", threads=1), open_runner(str(blend_onnx), threads=1), pairs, keep_images=False, keep_outputs=True)
    assert report["inputs"] == ["frame0", "frame1", "t"]
    save_inputs(tmp_path / "inputs.json", [feed(pair, report["inputs"]) for pair in pairs])
    save_outputs(tmp_path / "outputs.json", report)

    feeds = load_json(str(tmp_path / "inputs.json"))
    assert len(feeds) == len(pairs) == 2
    for loaded, pair in zip(feeds, pairs):
        assert list(loaded) == ["frame0", "frame1", "t"]
        for name, expected in (("frame0", pair.frame0), ("frame1", pair.frame1), ("t", MIDPOINT)):
            assert loaded[name].dtype == np.float32
            np.testing.assert_array_equal(loaded[name], expected)

    results = RunResults.load(str(tmp_path / "outputs.json"))
    assert list(results.keys()) == ["vfi reference: toy_blend (torch, fp32)", f"vfi candidate: {blend_onnx} (ort, fp32)"]
    for role, (name, iterations) in zip(("reference", "candidate"), results.items()):
        assert len(iterations) == 2  # one iteration per pair
        for iteration, computed, pair in zip(iterations, report["_outputs"][role], pairs):
            assert iteration.runner_name == name and list(iteration.keys()) == ["output"]  # the graph's output name
            assert iteration["output"].dtype == np.float32
            np.testing.assert_array_equal(iteration["output"], computed)
            np.testing.assert_allclose(computed, (pair.frame0 + pair.frame1) / 2, atol=1e-6)  # the blend at t = 0.5


def test_a_polygraphy_input_file_gives_the_rows_of_the_same_pairs_from_data(polygraphy, sequence, blend_onnx, tmp_path):
    from polygraphy.json import save_json

    pairs = load_pairs(sequence)
    save_json([{"frame0": p.frame0, "frame1": p.frame1, "t": MIDPOINT} for p in pairs], str(tmp_path / "feeds.json"))
    rows = {}
    for source in (["--data", str(sequence)], ["--load-inputs", str(tmp_path / "feeds.json")]):
        report = tmp_path / f"{source[0][2:]}.json"
        result = run_vfi("parity", "toy_blend", str(blend_onnx), *source, "--json", str(report), "--threads", "1")
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
        rows[source[0]] = json.loads(report.read_text())["pairs"]
    assert [row.pop("pair") for row in rows["--data"]] == ["00.png → 01.png", "01.png → 02.png"]
    assert [row.pop("pair") for row in rows["--load-inputs"]] == ["iteration 0", "iteration 1"]
    assert rows["--load-inputs"] == rows["--data"]
    assert rows["--data"][0]["t"] == 0.5


def test_the_runners_get_the_t_of_a_loaded_feed(polygraphy, tmp_path):
    from polygraphy.json import save_json

    arrays = frames(0)
    save_json([{**arrays, "t": np.array([0.25], np.float64)}], str(tmp_path / "feeds.json"))
    pairs = load_inputs(tmp_path / "feeds.json")
    assert [(p.name, p.t, p.truth) for p in pairs] == [("iteration 0", 0.25, None)]
    report = run_parity(open_runner("toy_blend"), open_runner("toy_blend"), pairs, keep_images=False, keep_outputs=True,
                        inputs_file=tmp_path / "feeds.json")
    assert report["pairs"][0]["t"] == 0.25
    np.testing.assert_allclose(report["_outputs"]["candidate"][0], 0.75 * arrays["frame0"] + 0.25 * arrays["frame1"], atol=1e-6)


def _save(path, feeds):
    from polygraphy.json import save_json

    save_json(feeds, str(path))


def _unknown_type(path):
    path.write_text(json.dumps([{"frame0": {"polygraphy_class": "Nonesuch"}}]))


def _run_results(path):
    from polygraphy.comparator import RunResults

    RunResults([("runner", [])]).save(str(path))


def _four_channels(path):
    _save(path, [{name: np.zeros((1, 4, *SIZE), np.float32) for name in ("frame0", "frame1")}])


BAD_FILES = {  # case: (how the file is written, what the error says after the file's name)
    "not JSON": (lambda path: path.write_text("[{"), "not valid JSON"),
    "empty list": (lambda path: path.write_text("[]"), "not Polygraphy input data (a non-empty JSON list of feed dicts"),
    "not feed dicts": (lambda path: path.write_text("[1, 2]"), "not Polygraphy input data (a non-empty JSON list of feed dicts"),
    "unknown type": (_unknown_type, "not Polygraphy input data: a value does not decode (Could not decode serialized type: Nonesuch"),
    "run results": (_run_results, "holds runner outputs (a Polygraphy RunResults), not input data"),
    "another input": (lambda path: _save(path, [{**frames(0), "flow": MIDPOINT}]), "iteration 0 names inputs the models do not take: flow"),
    "no frame1": (lambda path: _save(path, [{"frame0": frames(0)["frame0"]}]), "iteration 0 lacks input frame1"),
    "integer frames": (
        lambda path: _save(path, [frames(0), {**frames(1), "frame1": np.zeros((1, 3, *SIZE), np.uint8)}]),
        "iteration 1: input frame1 is a uint8 array, not a floating-point NumPy array",
    ),
    "frame sizes differ": (
        lambda path: _save(path, [{"frame0": frames(0)["frame0"], "frame1": frames(0, (16, 20))["frame1"]}]),
        "iteration 0: frames of shape [1, 3, 16, 24] and [1, 3, 16, 20]; expected one RGB pair of the same shape [1, 3, H, W]",
    ),
    "not RGB": (_four_channels, "iteration 0: frames of shape [1, 4, 16, 24] and [1, 4, 16, 24]"),
    "t of two": (lambda path: _save(path, [{**frames(0), "t": np.zeros(2, np.float32)}]), "iteration 0: t of shape [2]; expected [1]"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_input_files_are_refused_in_one_line_naming_the_file(polygraphy, tmp_path, case):
    write, message = BAD_FILES[case]
    path = tmp_path / "feeds.json"
    write(path)
    with pytest.raises(ParityError) as error:
        load_inputs(path)
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)


@pytest.mark.parametrize(("model", "t", "message"), [
    ("toy_blend", None, "iteration 0 has inputs (frame0, frame1); the runners take (frame0, frame1, t)"),
    ("toy_mid", MIDPOINT, "iteration 0 has inputs (frame0, frame1, t); the runners take (frame0, frame1)"),
])
def test_loaded_feeds_must_be_the_runners_inputs(polygraphy, tmp_path, model, t, message):
    path = tmp_path / "feeds.json"
    _save(path, [{**frames(0), **({"t": t} if t is not None else {})}])
    with pytest.raises(ParityError) as error:
        run_parity(open_runner(model), open_runner(model), load_inputs(path), keep_images=False, inputs_file=path)
    assert str(error.value) == f"{path}: {message}"


def test_cli_errors_of_input_files_are_one_line_without_polygraphy_logging(polygraphy, tmp_path, capsys):
    path = tmp_path / "feeds.json"
    _unknown_type(path)
    result = run_vfi("parity", "toy_mid", "toy_mid", "--load-inputs", str(path))
    assert result.returncode == 2 and result.stdout == b""  # nothing of Polygraphy's own logging
    assert result.stderr.decode().splitlines() == [
        f"vfi parity: error: {path}: not Polygraphy input data: a value does not decode (Could not decode serialized type: "
        "Nonesuch. This could be because a required module is missing.)"
    ]
    with pytest.raises(SystemExit):
        main(["parity", "toy_mid", "toy_mid", "--data", str(tmp_path), "--load-inputs", str(path)])
    assert "argument --load-inputs: not allowed with argument --data" in capsys.readouterr().err


def test_without_polygraphy_its_options_are_refused_before_the_runners_run(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "polygraphy", None)  # `import polygraphy` raises ImportError
    monkeypatch.setitem(sys.modules, "polygraphy.comparator", None)
    with pytest.raises(ParityError, match=r"^--load-inputs reads and writes Polygraphy's formats, which need Polygraphy \(.*\): pip install polygraphy$"):
        require_polygraphy("--load-inputs")
    # The data folder is empty: the refusal comes before it is read or the runners run.
    assert main(["parity", "toy_mid", "toy_mid", "--data", str(tmp_path), "--save-outputs", str(tmp_path / "outputs.json")]) == 2
    error = capsys.readouterr().err.splitlines()
    assert len(error) == 1 and error[0].startswith("vfi parity: error: --save-outputs reads and writes Polygraphy's formats")
    assert not (tmp_path / "outputs.json").exists()


def polygraphy_run(*args: str) -> subprocess.CompletedProcess:
    """`polygraphy ARGS…` through its console entry point, in the Python that runs the tests."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from polygraphy.tools import main; sys.exit(main())", *args],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
    )


def test_polygraphy_run_compares_its_onnx_runtime_run_with_the_vfi_files(polygraphy, sequence, blend_onnx, tmp_path):
    """The interoperability that --save-inputs and --save-outputs are for: `polygraphy run MODEL
    --trt --load-inputs I --load-outputs O` elsewhere; here with its ONNX Runtime runner."""
    from polygraphy.comparator import RunResults

    inputs, outputs = tmp_path / "vfi_inputs.json", tmp_path / "vfi_outputs.json"
    result = run_vfi("parity", "toy_blend", str(blend_onnx), "--data", str(sequence), "--save-inputs", str(inputs),
                     "--save-outputs", str(outputs), "--threads", "1")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert {f"wrote {inputs}", f"wrote {outputs}"} <= set(result.stdout.decode().splitlines())

    run = polygraphy_run("run", str(blend_onnx), "--onnxrt", "--load-inputs", str(inputs), "--load-outputs", str(outputs))
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    # Polygraphy compares each runner with the next: its run with vfi's reference, that with vfi's candidate.
    assert "vs. vfi reference: toy_blend (torch, fp32) | Passed: 2/2 iterations" in log
    assert f"vfi reference: toy_blend (torch, fp32) vs. vfi candidate: {blend_onnx} (ort, fp32) | Passed: 2/2 iterations" in log

    # The comparison is of vfi's arrays, iteration by iteration: one changed output fails it.
    results = RunResults.load(str(outputs))
    reference = results[0][1]
    reference[1]["output"] = reference[1]["output"] + np.float32(0.01)
    results.save(str(tmp_path / "changed.json"))
    run = polygraphy_run("run", str(blend_onnx), "--onnxrt", "--load-inputs", str(inputs), "--load-outputs", str(tmp_path / "changed.json"))
    log = run.stdout + run.stderr
    assert run.returncode != 0, log
    assert "vs. vfi reference: toy_blend (torch, fp32) | Passed: 1/2 iterations" in log


def test_vfi_parity_runs_on_the_inputs_polygraphy_run_saved(polygraphy, blend_onnx, tmp_path):
    inputs = tmp_path / "pg_inputs.json"
    shapes = [f"{name}:[1,3,{SIZE[0]},{SIZE[1]}]" for name in ("frame0", "frame1")]
    run = polygraphy_run("run", str(blend_onnx), "--onnxrt", "--input-shapes", *shapes, "--save-inputs", str(inputs))
    assert run.returncode == 0, run.stdout + run.stderr
    result = run_vfi("parity", "toy_blend", str(blend_onnx), "--load-inputs", str(inputs), "--json", str(tmp_path / "r.json"), "--threads", "1")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    (row,) = json.loads((tmp_path / "r.json").read_text())["pairs"]
    assert (row["pair"], row["width"], row["height"]) == ("iteration 0", SIZE[1], SIZE[0])
    assert 0 <= row["t"] <= 1 and row["t"] != 0.5  # Polygraphy's random t, not vfi's midpoint
