"""`vfi bench minterpolate` runs end to end, file to file (the timings themselves are not tested)."""

from __future__ import annotations

import json

import av

from toy_models import run_vfi
from vfi.bench import minterpolate as bench_minterpolate
from vfi.bench.ffmpeg_minterpolate import interpolate_file
from vfi.frames.synthetic import BENCH_FRAMES, BENCH_SIZE, Scene, write_bench_clip, write_mp4


def test_bench_reports_both_and_their_ratio(tmp_path):
    clip = write_mp4(Scene(96, 64, seed=1).frames(4), tmp_path / "clip.mp4")
    out = tmp_path / "bench.json"
    result = run_vfi("bench", "minterpolate", "--input", str(clip), "--backend", "torch", "--repeats", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr.decode()
    results = json.loads(out.read_text())
    assert results["interpolated_frames"] == 3 and results["output_frames"] == 7 and results["size"] == "96x64"
    assert results["model"] == "classic on torch" and results["path"].startswith("torch on cpu")
    assert results["speed_ratio"] == results["minterpolate_seconds"] / results["model_seconds"] > 0
    assert "speed ratio" in result.stdout.decode()


def test_bench_scales_the_input_with_size(tmp_path):
    clip = write_mp4(Scene(96, 64, seed=1).frames(3), tmp_path / "clip.mp4")
    out = tmp_path / "bench.json"
    result = run_vfi("bench", "minterpolate", "--input", str(clip), "--size", "128x96", "--backend", "torch",
                     "--repeats", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(out.read_text())["size"] == "128x96"


def test_bench_default_input_is_generated_not_a_checkout_path(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    bench_minterpolate.add_parser(parser.add_subparsers())
    assert parser.parse_args(["minterpolate"]).input is None
    with av.open(str(write_bench_clip(tmp_path / "g.mp4"))) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == BENCH_SIZE
        assert sum(1 for _ in container.decode(stream)) == BENCH_FRAMES


def test_minterpolate_file_to_file_doubles_the_rate(tmp_path):
    clip = write_mp4(Scene(64, 48).frames(6), tmp_path / "c.mp4")
    target = tmp_path / "out.mp4"
    # Every input frame and one between each pair, except after the second-last frame, where the
    # filter stops (81 frames of car-turn.mp4 give 159).
    assert interpolate_file(clip, target, 2) == 2 * 6 - 3
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 24 and stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) == 2 * 6 - 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_bench_unreadable_video_is_one_line(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    result = run_vfi("bench", "minterpolate", "--input", str(bad), "--backend", "torch")
    assert result.returncode == 2
    (line,) = result.stderr.decode().strip().splitlines()
    assert line.startswith(f"vfi bench: error: {bad}: not a readable video")
