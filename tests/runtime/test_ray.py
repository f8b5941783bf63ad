"""`--ray` on a local Ray cluster of two CPUs with two workers: the output is the single-process
run's, frame for frame; a worker killed mid-chunk has its chunk rerun on another; bad input fails
the job with the usual one-line error and leaves nothing behind.

The workers run classic on the torch backend: the workers are separate processes (the toy models
registered in this one do not exist there), and torch needs no ONNX export first."""

from __future__ import annotations

import json
import logging
import os
import signal

import pytest

from clips import KEYFRAMES_EVERY_10, assert_same_counts, assert_same_output, damage_packet, scene, write_clip
from toy_models import leftovers
from vfi.cli import main
from vfi.runtime.interpolator import Interpolator
from vfi.runtime.scaleout.cluster import RayRunner
from vfi.runtime.scaleout.driver import process_video_split
from vfi.runtime.video import EncoderOptions, process_video

ray = pytest.importorskip("ray", reason="needs Ray: pip install 'vfi[ray]'")

FFV1 = EncoderOptions(codec="ffv1")
MODEL = {"model": "classic", "backend": "torch"}
CLI_MODEL = ["--model", "classic", "--backend", "torch"]


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module (starting one takes seconds); the runners join it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def single_process():
    return Interpolator(**MODEL)


def test_two_workers_give_the_single_process_output_with_audio_and_a_cut_at_a_boundary(
        tmp_path, cluster, single_process, capsys):
    source = write_clip(tmp_path / "in.mp4", scene(40, 21), codec="libx264", options=KEYFRAMES_EVERY_10,
                        audio_seconds=1.6)
    single = process_video(single_process, source, tmp_path / "single.mkv", encoder=FFV1)
    assert main(["interpolate", str(source), str(tmp_path / "split.mkv"), *CLI_MODEL, "--codec", "ffv1",
                 "--ray", "--workers", "2", "--chunks", "2", "--json"]) == 0
    split = json.loads(capsys.readouterr().out)
    assert single.scene_cuts == 1
    for name in ("decoded", "expected", "original", "interpolated", "repeated_at_cuts", "scene_cuts", "written", "lost"):
        assert split[name] == getattr(single, name), name
    assert_same_output(tmp_path / "single.mkv", tmp_path / "split.mkv")
    assert split["chunks"] == 2 and split["retried_chunks"] == 0
    workers = split["workers"]
    assert len(workers) == 2 and sum(w["chunks"] for w in workers) == 2
    assert sum(w["frames"] for w in workers) == single.written
    assert leftovers(tmp_path) == []


@pytest.mark.data
def test_car_turn_on_two_workers_equals_one_process(tmp_path, cluster, single_process, data_dir):
    source = data_dir / "videos" / "car-turn.mp4"
    single = process_video(single_process, source, tmp_path / "single.mkv", encoder=FFV1)
    with RayRunner(MODEL, workers=2) as runner:
        split = process_video_split(runner, source, tmp_path / "split.mkv", encoder=FFV1)
    assert split.chunks == 8
    assert_same_counts(single, split)
    assert_same_output(tmp_path / "single.mkv", tmp_path / "split.mkv")


def test_a_worker_killed_mid_chunk_has_its_chunk_rerun_on_another(tmp_path, cluster, single_process):
    source = write_clip(tmp_path / "in.mkv", scene(24, 100, size=(180, 320)), codec="ffv1")
    single = process_video(single_process, source, tmp_path / "single.mkv", encoder=FFV1)
    killed = []

    def kill_one(done, running):
        for pid, (chunk, frames) in running.items():
            if not killed and frames > 0:
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, chunk))

    with RayRunner(MODEL, workers=2, on_progress=kill_one) as runner:
        split = process_video_split(runner, source, tmp_path / "split.mkv", encoder=FFV1, chunk_count=4)
    assert killed, "no chunk was seen in progress"
    assert split.retried_chunks >= 1
    dead = [w for w in split.workers if w["died"]]
    assert [w["pid"] for w in dead] == [killed[0][0]] and len(split.workers) == 3  # the dead one replaced
    assert sum(w["chunks"] for w in split.workers) == 4
    assert_same_counts(single, split)
    assert_same_output(tmp_path / "single.mkv", tmp_path / "split.mkv")


def test_damaged_input_fails_the_job_with_one_line_and_leaves_nothing(tmp_path, cluster, capsys):
    source = write_clip(tmp_path / "in.mkv", scene(20, 100), codec="mjpeg", pix_fmt="yuvj420p")
    damage_packet(source, 15)
    out = tmp_path / "out"
    out.mkdir()
    code = main(["interpolate", str(source), str(out / "split.mkv"), *CLI_MODEL, "--ray", "--workers", "2",
                 "--chunks", "2"])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert error[-1].startswith(f"vfi interpolate: error: {source}: damaged video data in chunk 1")
    assert list(out.iterdir()) == []


def test_batch_on_ray_does_every_video_and_reports_the_broken_one(tmp_path, cluster, capsys):
    folder = tmp_path / "in"
    (folder / "day2").mkdir(parents=True)
    write_clip(folder / "a.mkv", scene(12, 6), codec="ffv1")
    write_clip(folder / "day2" / "b.mp4", scene(12, 100), codec="libx264", audio_seconds=0.5)
    (folder / "broken.mp4").write_bytes(b"not a video")
    code = main(["batch", str(folder), str(tmp_path / "out"), *CLI_MODEL, "--ray", "--workers", "2", "--json"])
    results = {r["input"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 2
    assert results[str(folder / "broken.mp4")]["status"] == "failed"
    for name in ("a.mkv", "day2/b.mp4"):
        summary = results[str(folder / name)]["summary"]
        assert summary["written"] == 23 and summary["lost"] == 0 and len(summary["workers"]) == 2
        assert sum(w["frames"] for w in summary["workers"]) == 23  # counted per video, not over the batch
        assert (tmp_path / "out" / name).is_file()
