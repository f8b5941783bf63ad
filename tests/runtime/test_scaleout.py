"""A video split into chunks (vfi.runtime.scaleout) gives the single-process run's output exactly:
the same frames, timestamps, counts, audio and scene cuts, wherever the chunk boundaries fall. The
chunks here run one after another in this process; tests/runtime/test_ray.py runs them on Ray."""

from __future__ import annotations

import sys
from fractions import Fraction as F
from pathlib import Path

import pytest

from clips import KEYFRAMES_EVERY_10, assert_same_counts, assert_same_output, damage_packet, decoded, scene, write_clip
from toy_models import leftovers
from vfi.cli import main
from vfi.errors import VfiError
from vfi.runtime.interpolator import Interpolator
from vfi.runtime.scaleout.chunk import interpolate_chunk
from vfi.runtime.scaleout.driver import default_chunk_count, process_video_split
from vfi.runtime.scaleout.plan import Packet, boundaries
from vfi.runtime.video import EncoderOptions, process_video

pytestmark = pytest.mark.usefixtures("toy_registered")

FFV1 = EncoderOptions(codec="ffv1")


class InProcess:
    """The chunks one after another in this process, each recorded."""

    size = 2

    def __init__(self, interpolator: Interpolator):
        self.interpolator, self.model, self.path = interpolator, interpolator.describe(), interpolator.path
        self.plan = []

    def run(self, job, plan, expected):
        self.plan = plan
        for chunk in plan:
            yield chunk, interpolate_chunk(self.interpolator, job, chunk)

    def report(self, summary):
        pass


def run_both(tmp_path: Path, source: Path, interpolator: Interpolator, chunks: int, suffix=".mkv", **options):
    runner = InProcess(interpolator)
    single = process_video(interpolator, source, tmp_path / f"single{suffix}", **options)
    split = process_video_split(runner, source, tmp_path / f"split{suffix}", chunk_count=chunks, **options)
    return single, split, runner.plan


# -- where the video is split ---------------------------------------------------------------------

def test_every_frame_a_keyframe_splits_at_even_points():
    packets = [Packet(pts, True) for pts in range(100)]
    assert [(b.skip, b.pts) for b in boundaries(packets, 4)] == [(25, 25), (50, 50), (75, 75)]


def test_keyframes_near_the_even_points_are_preferred():
    packets = [Packet(pts, pts % 10 == 0) for pts in range(100)]
    assert [(b.skip, b.pts) for b in boundaries(packets, 4)] == [(20, 20), (50, 50), (70, 70)]


def test_without_keyframes_near_them_any_frame_is_decoded_from_its_keyframe():
    packets = [Packet(pts, pts == 0) for pts in range(100)]
    assert [(b.skip, b.pts) for b in boundaries(packets, 4)] == [(0, 25), (0, 50), (0, 75)]


def test_frames_shown_before_a_frame_decoded_earlier_are_not_split_at():
    # decoding order I0 P3 B1 B2 P6 B4 B5 …: a B-frame is shown before the P-frame decoded before it
    order = [0] + [pts for p in range(3, 30, 3) for pts in (p, p - 2, p - 1)]
    packets = [Packet(pts, pts == 0) for pts in order]
    chosen = boundaries(packets, 3)
    assert chosen and all(b.pts % 3 == 0 and b.skip == 0 for b in chosen)


def test_long_or_large_videos_get_more_chunks_than_four_per_worker():
    class Probe:
        width, height = 1920, 1080

    assert default_chunk_count(Probe(), F(100), 2) == 8
    assert default_chunk_count(Probe(), F(100_000), 2) == 580  # ≤ 1 GiB of raw 4:4:4 frames each


def test_packets_without_timestamps_leave_one_chunk():
    assert boundaries([Packet(0, True), Packet(None, True), Packet(2, True)], 2) == []


# -- the same output ------------------------------------------------------------------------------

@pytest.mark.parametrize("cut", [20, 21], ids=["cut-ends-a-chunk", "cut-starts-a-chunk"])
def test_a_scene_cut_at_a_chunk_boundary_and_audio_come_out_as_in_one_process(tmp_path, cut):
    subtitles = [("before the cut", F(1, 5), F(1, 2)), ("across the boundary", F(3, 4), F(1, 2))]
    source = write_clip(tmp_path / "in.mkv", scene(40, cut), codec="libx264", options=KEYFRAMES_EVERY_10,
                        audio_seconds=1.6, subtitles=subtitles)
    single, split, plan = run_both(tmp_path, source, Interpolator(model="toy_blend"), chunks=2, encoder=FFV1)
    assert [(c.skip, c.start_pts) for c in plan[1:]] == [(20, 800)]  # at the keyframe of frame 20 (0.8 s)
    assert single.scene_cuts == 1 and single.repeated_at_cuts == 1
    assert_same_counts(single, split)
    assert_same_output(tmp_path / "single.mkv", tmp_path / "split.mkv")
    assert split.remuxed_streams == single.remuxed_streams and len(split.remuxed_streams) == 2
    assert {stream for stream, _, _ in decoded(tmp_path / "split.mkv")["others"]} == {1, 2}


@pytest.mark.parametrize("model, timing", [
    ("toy_blend", {"fps": "60"}),  # 25 → 60: the chunks' first output frames fall between input frames
    ("toy_blend", {"fps": "20"}),  # fewer output frames than input frames
    ("toy_mid", {"factor": 4}),  # midpoint-only: bisection inside each chunk
    ("toy_mid", {"factor": 3}),  # the nearest bisection step is sometimes the next chunk's first frame
])
def test_output_grids_that_do_not_align_with_the_chunks(tmp_path, model, timing):
    source = write_clip(tmp_path / "in.mkv", scene(30, 100), codec="ffv1")  # every frame a keyframe
    single, split, plan = run_both(tmp_path, source, Interpolator(model=model), chunks=5, encoder=FFV1, **timing)
    assert len(plan) == 5
    assert_same_counts(single, split)
    assert_same_output(tmp_path / "single.mkv", tmp_path / "split.mkv")


def test_lossy_output_is_byte_identical_because_it_is_encoded_once(tmp_path):
    source = write_clip(tmp_path / "in.mp4", scene(24, 12), codec="libx264", options=KEYFRAMES_EVERY_10)
    run_both(tmp_path, source, Interpolator(model="toy_blend"), chunks=3, suffix=".mp4")
    assert (tmp_path / "single.mp4").read_bytes() == (tmp_path / "split.mp4").read_bytes()


@pytest.mark.data
def test_car_turn_split_where_it_has_no_keyframes_equals_one_process(tmp_path, data_dir):
    # car-turn.mp4 has a single keyframe: every chunk decodes from the start up to its first frame.
    single, split, plan = run_both(tmp_path, data_dir / "videos" / "car-turn.mp4", Interpolator(model="toy_blend"),
                                   chunks=4, encoder=FFV1)
    assert len(plan) == 4 and {c.skip for c in plan} == {0}
    assert_same_counts(single, split)
    assert_same_output(tmp_path / "single.mkv", tmp_path / "split.mkv")


# -- bad input ------------------------------------------------------------------------------------

def test_a_chunk_with_damaged_video_fails_the_job_naming_the_file_and_leaves_nothing(tmp_path):
    source = write_clip(tmp_path / "in.mkv", scene(20, 100), codec="mjpeg", pix_fmt="yuvj420p")
    damage_packet(source, 15)
    single = process_video(Interpolator(model="toy_blend"), source, tmp_path / "single.mkv", encoder=FFV1)
    assert single.damaged_input == 1  # one process decodes around it and counts the frame lost
    out = tmp_path / "out" / "split.mkv"
    out.parent.mkdir()
    with pytest.raises(VfiError, match=rf"{source}: damaged video data in chunk 1 .*run without --ray"):
        process_video_split(InProcess(Interpolator(model="toy_blend")), source, out, chunk_count=2, encoder=FFV1)
    assert not out.exists() and leftovers(out.parent) == []


def test_a_truncated_file_is_accounted_for_as_in_one_process(tmp_path):
    source = write_clip(tmp_path / "in.mkv", scene(20, 100), codec="ffv1")
    source.write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])
    single, split, _ = run_both(tmp_path, source, Interpolator(model="toy_blend"), chunks=2, encoder=FFV1)
    assert single.damaged_input > 0 and single.lost == single.damaged_input
    assert (split.damaged_input, split.damage) == (single.damaged_input, single.damage)
    assert_same_counts(single, split)
    assert_same_output(tmp_path / "single.mkv", tmp_path / "split.mkv")


def test_pipes_are_refused(tmp_path):
    with pytest.raises(VfiError, match="files, not pipes"):
        process_video_split(InProcess(Interpolator(model="toy_blend")), "-", tmp_path / "out.mkv")


def test_the_intermediate_holds_formats_ffv1_cannot(tmp_path):
    # yuvj420p (full-range JPEG YUV) input stays yuvj420p in libx264's output: FFV1 cannot hold it,
    # so the chunks come back as raw video.
    source = write_clip(tmp_path / "in.mp4", scene(12, 100), codec="libx264", pix_fmt="yuvj420p")
    single, split, _ = run_both(tmp_path, source, Interpolator(model="toy_blend"), chunks=3, suffix=".mp4")
    assert single.pix_fmt == "yuvj420p"
    assert_same_output(tmp_path / "single.mp4", tmp_path / "split.mp4")
    assert split.written == single.written == 23


# -- the command line -----------------------------------------------------------------------------

def test_without_ray_the_flag_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    source = write_clip(tmp_path / "in.mkv", scene(4, 100), codec="ffv1")
    assert main(["interpolate", str(source), str(tmp_path / "out.mkv"), "--model", "toy_blend", "--ray"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "vfi interpolate: error: --ray needs Ray: pip install 'vfi[ray]'"
    ]
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize("paths, args, message", [
    (["in.mkv", "out.mkv"], ["--workers", "2"], "--workers applies to --ray runs"),
    (["in.mkv", "out.mkv"], ["--chunks", "3"], "--chunks applies to --ray runs"),
    (["in.mkv", "-"], ["--ray"], "--ray reads and writes files, not pipes"),
    (["in.mkv", "out.mkv"], ["--ray", "--keep-partial"], "--keep-partial does not apply to --ray runs"),
    (["in.mkv", "in.mkv", "-o", "mid.png"], ["--ray"], "interpolate two images without it"),
])
def test_scale_out_options_that_do_not_apply_are_one_line_errors(tmp_path, monkeypatch, capsys, paths, args, message):
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / "in.mkv", scene(4, 100), codec="ffv1")
    assert main(["interpolate", *paths, "--model", "toy_blend", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]
