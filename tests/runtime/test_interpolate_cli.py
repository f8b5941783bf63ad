"""`vfi interpolate` as a user runs it: bad input gives one line and leaves nothing behind, Ctrl-C,
pipes, image pairs, the JSON summary."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from clips import flat, level, read_clip, write_clip
from toy_models import leftovers, run_vfi
from vfi.cli import main
from vfi.export.engine_sidecar import write_sidecar

pytestmark = pytest.mark.usefixtures("toy_registered")


def ramp(count: int, step: int = 20, **size) -> list[np.ndarray]:
    return [flat(20 + step * i, **size) for i in range(count)]


def fails_cleanly(capsys, tmp_path: Path, *args: str, match: str) -> str:
    """Run `vfi interpolate ARGS… OUT` in-process; it must exit 2 with one line naming the
    problem, and leave nothing at OUT nor any temporary file."""
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["interpolate", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith("vfi interpolate: error: ") and match in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not leftovers(tmp_path)
    return line


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "in.mp4", ramp(6), codec="libx264")


def test_truncated_file_without_its_index(capsys, tmp_path, clip):
    data = clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end
    fails_cleanly(capsys, tmp_path, str(tmp_path / "cut.mp4"), str(tmp_path / "out.mp4"), "--model", "toy_blend",
                  match="cut.mp4: not a readable video")


def test_truncated_file_with_its_index_first(capsys, tmp_path):
    """The index announces 40 frames and the data holds 24: the 24 are interpolated and written,
    and the run reports the 16 lost with exit status 1."""
    noise = np.random.default_rng(0).integers(0, 256, (40, 48, 64, 3), np.uint8)  # so that frames dominate the file
    source = write_clip(tmp_path / "fast.mp4", list(noise), codec="libx264", container_options={"movflags": "faststart"})
    data = source.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    code = main(["interpolate", str(tmp_path / "cut.mp4"), str(tmp_path / "out.mp4"), "--model", "toy_blend", "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1, captured.err
    assert summary["damaged_input"] == 40 - summary["decoded"] > 0 and summary["lost"] == summary["damaged_input"]
    assert "of the 40 its header announces" in summary["damage"]
    assert len(read_clip(tmp_path / "out.mp4").frames) == summary["written"] == 2 * summary["decoded"] - 1
    assert captured.err.strip().splitlines()[-1].startswith(f"vfi interpolate: error: {summary['lost']} frames lost (")
    assert not leftovers(tmp_path)


def test_random_bytes(capsys, tmp_path):
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    fails_cleanly(capsys, tmp_path, str(tmp_path / "noise.mp4"), str(tmp_path / "out.mp4"), "--model", "toy_blend",
                  match="noise.mp4: not a readable video")


def test_empty_file(capsys, tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    fails_cleanly(capsys, tmp_path, str(tmp_path / "empty.mp4"), str(tmp_path / "out.mp4"), "--model", "toy_blend",
                  match="empty.mp4: empty file")


def test_missing_input(capsys, tmp_path):
    fails_cleanly(capsys, tmp_path, str(tmp_path / "nope.mp4"), str(tmp_path / "out.mp4"), "--model", "toy_blend",
                  match="nope.mp4: no such file")


def test_no_video_stream(capsys, tmp_path):
    with av.open(str(tmp_path / "sound.m4a"), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    fails_cleanly(capsys, tmp_path, str(tmp_path / "sound.m4a"), str(tmp_path / "out.mp4"), "--model", "toy_blend",
                  match="sound.m4a: no video stream (audio)")


def test_unsupported_pixel_format(capsys, tmp_path):
    write_clip(tmp_path / "alpha.mkv", ramp(3), pix_fmt="yuva420p")
    fails_cleanly(capsys, tmp_path, str(tmp_path / "alpha.mkv"), str(tmp_path / "out.mp4"), "--model", "toy_blend",
                  match="alpha.mkv: pixel format yuva420p has an alpha channel")


def test_missing_model_files(capsys, tmp_path, clip):
    out = str(tmp_path / "out.mp4")
    fails_cleanly(capsys, tmp_path, str(clip), out, "--onnx", str(tmp_path / "model.onnx"), match="model.onnx: no such ONNX file")
    fails_cleanly(capsys, tmp_path, str(clip), out, "--model", "toy_blend", "--weights", str(tmp_path / "w.pth"),
                  match="w.pth: no such weights file")
    fails_cleanly(capsys, tmp_path, str(clip), out, "--engine", str(tmp_path / "m.engine"), match="m.engine: no such TensorRT engine file")
    fails_cleanly(capsys, tmp_path, str(clip), out, "--model", "no_such_model", match="unknown model 'no_such_model'")


def test_malformed_onnx_file(capsys, tmp_path, clip):
    (tmp_path / "bad.onnx").write_bytes(b"not a protobuf")
    fails_cleanly(capsys, tmp_path, str(clip), str(tmp_path / "out.mp4"), "--onnx", str(tmp_path / "bad.onnx"),
                  match="bad.onnx: ONNX Runtime cannot load it")


def _engine_with_sidecar(folder: Path) -> Path:
    engine = folder / "model.engine"
    engine.write_bytes(b"serialized engine bytes")
    write_sidecar(engine, {
        "onnx_sha256": "ab" * 32, "onnx_path": "model.onnx", "precision": "fp16",
        "profile": {"min": [64, 64], "opt": [360, 640], "max": [1080, 1920]}, "tensorrt_version": "10.13.0",
        "gpu_name": "NVIDIA H200", "compute_capability": "9.0", "plugin_sha256": None, "vfi_version": "0.1.0",
    })
    return engine


def test_mismatched_engine_sidecar(capsys, tmp_path, clip):
    engine = _engine_with_sidecar(tmp_path)
    engine.write_bytes(b"another engine")  # the sidecar describes the file it was built as
    fails_cleanly(capsys, tmp_path, str(clip), str(tmp_path / "out.mp4"), "--engine", str(engine),
                  match="model.engine: the file's SHA-256")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                    reason="checks the message when TensorRT is missing; TensorRT is installed here")
def test_missing_tensorrt_is_one_line(capsys, tmp_path, clip):
    engine = _engine_with_sidecar(tmp_path)
    fails_cleanly(capsys, tmp_path, str(clip), str(tmp_path / "out.mp4"), "--engine", str(engine),
                  match="the trt backend needs tensorrt")


def test_json_summary(capsys, tmp_path, clip):
    code = main(["interpolate", str(clip), str(tmp_path / "out.mp4"), "--model", "toy_blend", "--fps", "50", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["written"] == summary["expected"] == 11 and summary["lost"] == 0
    assert summary["decoded"] == 6 and summary["input_rate"] == "25" and summary["output_rate"] == "50"
    assert summary["input_duration_s"] == summary["output_duration_s"] == pytest.approx(0.24)
    assert not leftovers(tmp_path)


def test_quality_preset_runs_its_model(capsys, tmp_path):
    Image.fromarray(flat(40, 37, 53)).save(tmp_path / "a.png")
    Image.fromarray(flat(200, 37, 53)).save(tmp_path / "b.png")
    code = main(["interpolate", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "mid.png"),
                 "--quality", "fast", "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "classic-fast" in err
    assert np.asarray(Image.open(tmp_path / "mid.png")).shape == (37, 53, 3)


def test_quality_and_model_exclude_each_other(capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["interpolate", "a.mp4", "b.mp4", "--quality", "best", "--model", "classic"])
    assert exited.value.code == 2
    assert "argument --model: not allowed with argument --quality" in capsys.readouterr().err


def test_image_pair(capsys, tmp_path):
    Image.fromarray(flat(40, 37, 53)).save(tmp_path / "a.png")
    Image.fromarray(flat(200, 37, 53)).save(tmp_path / "b.png")
    code = main(["interpolate", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "mid.png"),
                 "--model", "toy_blend", "--t", "0.25"])
    assert code == 0, capsys.readouterr().err
    middle = np.asarray(Image.open(tmp_path / "mid.png"))
    assert middle.shape == (37, 53, 3) and np.all(middle == 80)


def test_image_pair_of_different_sizes(capsys, tmp_path):
    Image.fromarray(flat(40, 37, 53)).save(tmp_path / "a.png")
    Image.fromarray(flat(200, 38, 53)).save(tmp_path / "b.png")
    fails_cleanly(capsys, tmp_path, str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "mid.png"),
                  "--model", "toy_blend", match="a.png is 53x37 but")


def _y4m(frames: list[np.ndarray], rate: int = 25) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
    return buffer.getvalue()


def _read_y4m(data: bytes) -> tuple[list[np.ndarray], object]:
    with av.open(io.BytesIO(data), format="yuv4mpegpipe") as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)], stream.average_rate


def test_y4m_pipe_in_and_out():
    result = run_vfi("interpolate", "-", "-", "--model", "toy_blend", "--factor", "2", input=_y4m(ramp(5)))
    assert result.returncode == 0, result.stderr.decode()
    frames, rate = _read_y4m(result.stdout)
    assert rate == 50 and len(frames) == 9
    np.testing.assert_allclose([level(f) for f in frames], [20 + 10 * k for k in range(9)], atol=1.0)
    assert b"written 9 of 9" in result.stderr


def test_y4m_output_applies_the_rotation_once(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(2, height=48, width=64), rotation=90)
    result = run_vfi("interpolate", str(source), "-", "--model", "toy_blend")
    assert result.returncode == 0, result.stderr.decode()
    frames, _ = _read_y4m(result.stdout)
    assert len(frames) == 3 and frames[0].shape == (64, 48, 3)


def test_not_y4m_on_stdin():
    result = run_vfi("interpolate", "-", "-", "--model", "toy_blend", input=b"\x00" * 1000)
    assert result.returncode == 2 and result.stdout == b""
    (line,) = result.stderr.decode().strip().splitlines()
    assert line.startswith("vfi interpolate: error: stdin: not a y4m stream (")


def _interrupt(tmp_path: Path, *extra: str, signals: int = 1, signum: int = signal.SIGINT) -> tuple[subprocess.Popen, Path]:
    """Start a slow run, send `signum` once the model has run three times, wait for the exit."""
    source = write_clip(tmp_path / "in.mp4", ramp(12, step=15))
    calls = tmp_path / "calls"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "VFI_TOY_DELAY_S": "1.0", "VFI_TOY_CALLS": str(calls),
                   "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "toy_models.py"), "interpolate", str(source),
         str(tmp_path / "out.mp4"), "--model", "toy_blend", "--backend", "torch",  # the delay is in PyTorch code
         "--batch-size", "1", "--codec", "ffv1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    )
    deadline = time.monotonic() + 120
    while not (calls.exists() and len(calls.read_text()) >= 3) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(signals):
        process.send_signal(signum)
        time.sleep(0.1)
    process.wait(timeout=120)
    return process, tmp_path / "out.mp4"


INTERRUPTS = pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])


@INTERRUPTS
def test_ctrl_c_leaves_nothing(tmp_path, signum):
    process, output = _interrupt(tmp_path, signum=signum)
    assert process.returncode == 130, process.stderr.read().decode()
    assert not output.exists() and not leftovers(tmp_path)
    assert "out.mp4 was not written" in process.stderr.read().decode()


@INTERRUPTS
def test_ctrl_c_with_keep_partial_finalises_a_shorter_valid_file(tmp_path, signum):
    process, output = _interrupt(tmp_path, "--keep-partial", signum=signum)
    stderr = process.stderr.read().decode()
    assert process.returncode == 130, stderr
    clip = read_clip(output)
    assert 3 <= len(clip.frames) < 23 and f"holds the first {len(clip.frames)} frames" in stderr
    assert clip.times == [k / clip.stream["base_rate"] for k in range(len(clip.frames))]
    assert not leftovers(tmp_path)


@INTERRUPTS
def test_second_ctrl_c_aborts_even_with_keep_partial(tmp_path, signum):
    process, output = _interrupt(tmp_path, "--keep-partial", signals=2, signum=signum)
    assert process.returncode == 130
    assert not output.exists() and not leftovers(tmp_path)
