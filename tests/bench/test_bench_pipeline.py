"""`vfi bench pipeline` runs end to end (its timings are not checked: benchmarks are not tests)."""

from __future__ import annotations

import json

import pytest

from clips import flat, write_clip
from vfi.cli import main

pytestmark = pytest.mark.usefixtures("toy_registered")


def test_bench_pipeline_compares_the_same_frames(tmp_path, capsys):
    source = write_clip(tmp_path / "in.mp4", [flat(20 + 10 * i) for i in range(10)], codec="libx264")
    code = main(["bench", "pipeline", "--input", str(source), "--model", "toy_blend", "--repeats", "1",
                 "--json", str(tmp_path / "bench.json")])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "bench.json").read_text())
    assert results["input_frames"] == 10 and results["output_frames"] == 19
    assert len(results["inference_runs"]) == len(results["pipeline_runs"]) == 1
    assert "pipeline overhead" in capsys.readouterr().out
