"""`vfi batch`: a folder of videos into another folder, one model for all, failures reported and
skipped over, finished outputs left alone on a rerun."""

from __future__ import annotations

import json

import pytest

from clips import read_clip, scene, write_clip
from toy_models import leftovers
from vfi.cli import main

pytestmark = pytest.mark.usefixtures("toy_registered")


def folder_of_videos(root):
    folder = root / "in"
    (folder / "day2").mkdir(parents=True)
    write_clip(folder / "a.mkv", scene(10, 100), codec="ffv1")
    write_clip(folder / "day2" / "b.mp4", scene(8, 100), codec="libx264", audio_seconds=0.4)
    (folder / "notes.txt").write_text("not a video, by its name")
    (folder / "broken.mp4").write_bytes(b"not a video, by its content")
    return folder


def batch(capsys, *args):
    code = main(["batch", *map(str, args), "--model", "toy_blend", "--json"])
    captured = capsys.readouterr()
    return code, {r["input"]: r for r in json.loads(captured.out)}, captured.err


def test_every_video_is_written_to_its_relative_path_and_a_broken_one_is_reported(tmp_path, capsys):
    folder, out = folder_of_videos(tmp_path), tmp_path / "out"
    code, results, err = batch(capsys, folder, out)
    assert code == 2  # one video failed
    assert sorted(results) == sorted(str(folder / n) for n in ("a.mkv", "broken.mp4", "day2/b.mp4"))
    assert results[str(folder / "broken.mp4")]["status"] == "failed"
    assert f"failed: {folder / 'broken.mp4'}: not a readable video" in err
    assert len(read_clip(out / "a.mkv").frames) == 19
    b = read_clip(out / "day2" / "b.mp4")
    assert len(b.frames) == 15 and b.stream["streams"] == ["video", "audio"]
    assert not (out / "broken.mp4").exists() and leftovers(out) == []
    assert "3 videos: 2 done, 0 with lost frames, 1 failed, 0 skipped" in err


def test_a_rerun_skips_finished_videos_unless_overwrite(tmp_path, capsys):
    folder, out = folder_of_videos(tmp_path), tmp_path / "out"
    (folder / "broken.mp4").unlink()
    assert batch(capsys, folder, out)[0] == 0
    written = (out / "a.mkv").stat().st_mtime_ns
    code, results, _ = batch(capsys, folder, out)
    assert code == 0 and {r["status"] for r in results.values()} == {"skipped"}
    assert (out / "a.mkv").stat().st_mtime_ns == written
    code, results, _ = batch(capsys, folder, out, "--overwrite")
    assert code == 0 and {r["status"] for r in results.values()} == {"done"}


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(tmp_path, capsys):
    folder = folder_of_videos(tmp_path)
    (folder / "broken.mp4").unlink()
    assert batch(capsys, folder, folder / "out")[0] == 0
    code, results, _ = batch(capsys, folder, folder / "out")
    assert code == 0 and len(results) == 2


@pytest.mark.parametrize("case, message", [
    ("same", "is the input folder"),
    ("empty", "no videos"),
    ("missing", "not a folder"),
])
def test_bad_folders_are_one_line_errors(tmp_path, capsys, case, message):
    (tmp_path / "in").mkdir()
    if case != "empty":
        write_clip(tmp_path / "in" / "a.mkv", scene(4, 100), codec="ffv1")
    source = tmp_path / ("nowhere" if case == "missing" else "in")
    target = source if case == "same" else tmp_path / "out"
    assert main(["batch", str(source), str(target), "--model", "toy_blend"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
