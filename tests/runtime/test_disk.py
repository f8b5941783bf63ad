"""Where the output goes: a full disk and a read-only folder give one line and leave nothing
behind; two runs writing the same output at once never leave a damaged file there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clips import read_clip, write_clip
import toy_models
from toy_models import leftovers
from vfi.cli import main

pytestmark = pytest.mark.usefixtures("toy_registered")
TOY = ("--model", "toy_blend", "--backend", "torch")


def _noise(count: int, height: int = 96, width: int = 128, seed: int = 0) -> list[np.ndarray]:
    """Frames that do not compress: their lossless output is large."""
    return list(np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), np.uint8))


def _mount_tmpfs(folder: Path, *options: str) -> None:
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB file system, mounted for one test."""
    folder = tmp_path / "small"
    _mount_tmpfs(folder, "size=256k")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def read_only_folder(tmp_path):
    """A read-only file system: even root cannot write to it, unlike a folder without the w bit."""
    folder = tmp_path / "locked"
    _mount_tmpfs(folder, "ro", "size=64k")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def _refused(capfd, args: list[str], match: str) -> None:
    code = main(["interpolate", *args])
    err = capfd.readouterr().err
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith("vfi interpolate: error: ") and match in line, line


def test_a_full_disk_leaves_nothing(capfd, tmp_path, small_disk):
    source = write_clip(tmp_path / "in.mkv", _noise(12), codec="ffv1")  # 23 lossless frames: about 850 KiB
    _refused(capfd, [str(source), str(small_disk / "out.mkv"), *TOY, "--codec", "ffv1"],
             match=f"{small_disk / 'out.mkv'}: cannot write it (No space left on device)")
    assert list(small_disk.iterdir()) == []


def test_a_full_disk_leaves_no_image(capfd, tmp_path, small_disk):
    for name, frame in zip("ab", _noise(2, 512, 512)):  # a 768 KiB PNG in the middle
        Image.fromarray(frame).save(tmp_path / f"{name}.png")
    _refused(capfd, [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(small_disk / "mid.png"), *TOY],
             match=f"{small_disk / 'mid.png'}: cannot write it (No space left on device)")
    assert list(small_disk.iterdir()) == []


@pytest.mark.parametrize("output", ["out.mp4", "mid.png"])
def test_a_read_only_folder_is_refused(capfd, tmp_path, read_only_folder, output):
    if output.endswith(".png"):
        Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
        args = [str(tmp_path / "a.png"), str(tmp_path / "a.png"), "-o", str(read_only_folder / output)]
    else:
        args = [str(write_clip(tmp_path / "in.mkv", _noise(3), codec="ffv1")), str(read_only_folder / output)]
    _refused(capfd, [*args, *TOY], match=f"{read_only_folder / output}: cannot write it (Read-only file system)")


def test_two_runs_writing_one_output_leave_one_complete_file(tmp_path):
    """Each run writes its own temporary file and renames it over the output when complete, so
    the output is, at any moment, absent or one run's complete file; the later rename wins."""
    output = tmp_path / "out.mkv"
    sources = [write_clip(tmp_path / f"in{n}.mkv", _noise(n, 48, 64, seed=n), codec="ffv1") for n in (20, 30)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "VFI_TOY_DELAY_S": "0.02",
                   "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    runs = [
        subprocess.Popen([sys.executable, toy_models.__file__, "interpolate", str(source), str(output), *TOY, "--codec", "ffv1",
                          "--batch-size", "1"], stderr=subprocess.PIPE, env=environment)
        for source in sources
    ]
    seen = set()
    while any(run.poll() is None for run in runs):
        if output.exists():
            seen.add(len(read_clip(output).frames))  # a complete file whenever it is there
        time.sleep(0.05)
    assert [run.wait() for run in runs] == [0, 0], [run.stderr.read().decode() for run in runs]
    assert seen <= {39, 59}
    assert len(read_clip(output).frames) in (39, 59) and not leftovers(tmp_path)
