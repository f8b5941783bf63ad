"""`vfi calib collect`: samples of consecutive frames preprocessed exactly as the runtime reads frames, near-duplicates
dropped, chosen evenly over the input within motion strata, seeded; a manifest that checks the
store; clear errors and nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vfi.calib.collect import Candidate, collect, select
from vfi.frames.sources import SourceError
from vfi.calib.store import CalibStoreError, load_sample, read_manifest
from vfi.frames.images import read_rgb
from vfi.frames.video_frames import video_frame_rgb


def run_vfi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vfi", *args], capture_output=True, text=True, timeout=300)


def moving_square(index: int, speed: int, size=(24, 32)) -> np.ndarray:
    frame = np.full((*size, 3), 40, np.uint8)
    x = (index * speed) % (size[1] - 6)
    frame[8:14, x : x + 6] = (220, 180, 60)
    frame[0, 0] = index  # no two frames identical
    return frame


def write_sequence(folder: Path, frames: list[np.ndarray], suffix: str = ".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame{i}{suffix}")  # frame2 before frame10: natural order
    return folder


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture
def sequence(tmp_path):
    # 12 frames: slow motion, then fast motion
    return write_sequence(tmp_path / "seq", [moving_square(i, 1 if i < 6 else 5) for i in range(12)])


def test_pairs_are_the_runtime_s_frames_and_the_manifest_describes_them(sequence, tmp_path):
    manifest = collect([sequence], tmp_path / "calib", samples=4, strata=2, seed=0)
    assert read_manifest(tmp_path / "calib") == json.loads((tmp_path / "calib" / "manifest.json").read_text())
    assert manifest["counts"] == {"frames": 12, "windows": 11, "duplicates": 0, "candidates": 11, "selected": 4}
    assert manifest["frames_per_sample"] == 2 and manifest["downscale"] == 1
    (source,) = manifest["sources"]
    assert source["kind"] == "images" and source["selected"] == 4 and len(source["sha256"]) == 64
    for entry in manifest["samples"]:
        first, second = entry["frames"]
        assert second == first + 1
        pair = load_sample(tmp_path / "calib", entry)
        for name, index in (("frame0", first), ("frame1", second)):
            expected = read_rgb(sequence / f"frame{index}.png")
            assert pair[name].dtype == np.float32 and pair[name].shape == (1, 3, 24, 32)
            np.testing.assert_array_equal(pair[name], expected)
        assert entry["frame_names"] == [f"frame{first}.png", f"frame{second}.png"]
    assert sorted(p.name for p in (tmp_path / "calib").iterdir()) == ["manifest.json"] + [f"sample_{i:04d}.npz" for i in range(4)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_every_motion_stratum_gets_its_share(sequence, tmp_path):
    manifest = collect([sequence], tmp_path / "calib", samples=4, strata=2, seed=0)
    strata = [entry["stratum"] for entry in manifest["samples"]]
    assert sorted(strata) == [0, 0, 1, 1]
    slow = [e["motion"] for e in manifest["samples"] if e["stratum"] == 0]
    fast = [e["motion"] for e in manifest["samples"] if e["stratum"] == 1]
    assert max(slow) <= min(fast)


def test_selection_is_even_over_the_input_within_a_stratum_and_seeded():
    candidates = [Candidate(0, i, motion=0.0) for i in range(100)]  # one stratum: equal motion
    chosen = [c.index for c, _ in select(candidates, 10, strata=1, seed=0)]
    assert len(chosen) == 10 and np.all(np.diff(chosen) == 10)  # one every 10
    assert chosen == [c.index for c, _ in select(candidates, 10, strata=1, seed=0)]
    starts = {select(candidates, 10, strata=1, seed=seed)[0][0].index for seed in range(10)}
    assert len(starts) > 1  # the seed moves the start
    assert len(select(candidates[:3], 10, strata=4, seed=0)) == 3  # fewer than asked: all of them


def test_duplicate_pairs_are_dropped(sequence, tmp_path):
    manifest = collect([sequence, sequence], tmp_path / "calib", samples=100, seed=0)
    counts = manifest["counts"]
    assert counts["windows"] == 22 and counts["duplicates"] == 11 and counts["selected"] == 11
    assert [s["duplicates"] for s in manifest["sources"]] == [0, 11]


def test_video_frames_are_decoded_as_the_runtime_decodes_them(tmp_path):
    frames = [moving_square(i, 3) for i in range(8)]
    video = write_video(tmp_path / "clip.mkv", frames)
    manifest = collect([video], tmp_path / "calib", samples=3, seed=1)
    assert manifest["sources"][0]["kind"] == "video" and manifest["counts"]["frames"] == 8
    with av.open(str(video)) as container:
        decoded = [video_frame_rgb(f, 8)[None] for f in container.decode(video=0)]
    for entry in manifest["samples"]:
        pair = load_sample(tmp_path / "calib", entry)
        np.testing.assert_array_equal(pair["frame0"], decoded[entry["frames"][0]])
        np.testing.assert_array_equal(pair["frame1"], decoded[entry["frames"][1]])


def test_a_changed_sample_file_is_refused(sequence, tmp_path):
    manifest = collect([sequence], tmp_path / "calib", samples=2)
    entry = manifest["samples"][0]
    path = tmp_path / "calib" / entry["file"]
    np.savez_compressed(path, frame0=np.zeros((1, 3, 24, 32), np.float32), frame1=np.zeros((1, 3, 24, 32), np.float32))
    with pytest.raises(CalibStoreError, match=f"{entry['file']}: SHA-256 differs"):
        load_sample(tmp_path / "calib", entry)
    manifest_path = tmp_path / "calib" / "manifest.json"
    manifest_path.write_text(json.dumps({**manifest, "format": "vfi-calib/1"}))
    with pytest.raises(CalibStoreError, match=r"not a vfi-calib/2 manifest \(vfi-calib/1: collect the folder again\)"):
        read_manifest(tmp_path / "calib")


def test_longer_samples_are_consecutive_frames_downscaled_by_area(sequence, tmp_path):
    manifest = collect([sequence], tmp_path / "calib", samples=3, frames=4, downscale=4, seed=0)
    assert manifest["counts"]["windows"] == 9 and manifest["frames_per_sample"] == 4
    for entry in manifest["samples"]:
        assert entry["frames"] == list(range(entry["frames"][0], entry["frames"][0] + 4))
        sample = load_sample(tmp_path / "calib", entry)
        assert list(sample) == ["frame0", "frame1", "frame2", "frame3"]
        for name, index in zip(sample, entry["frames"]):
            full = read_rgb(sequence / f"frame{index}.png").astype(np.float64)
            expected = full.reshape(1, 3, 6, 4, 8, 4).mean(axis=(3, 5))  # 24x32 -> 6x8
            np.testing.assert_allclose(sample[name], expected, rtol=0, atol=1e-6)
    with pytest.raises(SourceError, match="32x24 frames are smaller than the downscale factor 25"):
        collect([sequence], tmp_path / "tiny", samples=1, downscale=25)
    assert not (tmp_path / "tiny").exists()


def test_bad_inputs_are_named_and_leave_nothing(sequence, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 1000)
    with pytest.raises(SourceError, match="broken.mp4: not a readable video"):
        collect([sequence, broken], tmp_path / "calib")
    assert not (tmp_path / "calib").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    mixed = write_sequence(tmp_path / "mixed", [moving_square(0, 1), moving_square(1, 1, size=(20, 32))])
    with pytest.raises(SourceError, match="frame1.png: is 32x20 but frame0.png is 32x24"):
        collect([mixed], tmp_path / "calib")
    with pytest.raises(SourceError, match="holds 1 image"):
        collect([write_sequence(tmp_path / "one", [moving_square(0, 1)])], tmp_path / "calib")

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("data")
    with pytest.raises(CalibStoreError, match="already exists and is not an empty folder"):
        collect([sequence], tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "data"


def test_cli_reports_and_fails_in_one_line(sequence, tmp_path):
    ok = run_vfi("calib", "collect", str(sequence), "-o", str(tmp_path / "calib"), "--samples", "3")
    assert ok.returncode == 0, ok.stderr
    assert "3 samples of 2 frames from 1 source(s)" in ok.stdout
    missing = run_vfi("calib", "collect", str(tmp_path / "nothing.mp4"), "-o", str(tmp_path / "other"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"vfi calib: error: {tmp_path / 'nothing.mp4'}: no such file or folder"]


@pytest.mark.data
def test_collects_from_the_shared_video_and_image_sequence(data_dir, tmp_path):
    inputs = [data_dir / "videos" / "car-turn.mp4", data_dir / "sequences" / "cdfi-img-seq"]
    manifest = collect(inputs, tmp_path / "calib", samples=8, strata=4, seed=0)
    assert [s["frames"] for s in manifest["sources"]] == [81, 52]
    assert manifest["counts"]["selected"] == 8
    assert {tuple(e["shape"]) for e in manifest["samples"]} == {(1, 3, 360, 640), (1, 3, 480, 854)}
    assert sorted({e["stratum"] for e in manifest["samples"]}) == [0, 1, 2, 3]
    again = collect(inputs, tmp_path / "again", samples=8, strata=4, seed=0)
    assert [e["sha256"] for e in again["samples"]] == [e["sha256"] for e in manifest["samples"]]
