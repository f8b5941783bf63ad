"""`vfi bench minterpolate` runs end to end (the timings themselves are not tested)."""

from __future__ import annotations

import json

from toy_models import run_vfi
from vfi.runtime.synthetic import Scene, write_mp4


def test_bench_reports_both_and_their_ratio(tmp_path):
    clip = write_mp4(Scene(96, 64, seed=1).frames(4), tmp_path / "clip.mp4")
    out = tmp_path / "bench.json"
    result = run_vfi("bench", "minterpolate", "--input", str(clip), "--backend", "torch", "--repeats", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr.decode()
    results = json.loads(out.read_text())
    assert results["interpolated_frames"] == 3 and results["size"] == "96x64"
    assert results["model"] == "classic on torch"
    assert results["speed_ratio"] == results["minterpolate_seconds"] / results["model_seconds"] > 0
    assert "speed ratio" in result.stdout.decode()


def test_bench_unreadable_video_is_one_line(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    result = run_vfi("bench", "minterpolate", "--input", str(bad), "--backend", "torch")
    assert result.returncode == 2
    (line,) = result.stderr.decode().strip().splitlines()
    assert line.startswith(f"vfi bench: error: {bad}: not a readable video")
