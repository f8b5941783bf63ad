"""The video pipeline on synthetic clips: frame counts, exact timesteps and timestamps, durations,
audio, sizes, bit depth, rotation, scene cuts, encoders.

The toy_blend model returns (1 − t)·frame0 + t·frame1, so on flat frames an output frame's level
says which t it was computed at; ffv1 output keeps levels exact up to YUV rounding."""

from __future__ import annotations

from fractions import Fraction as F

import av
import numpy as np
import pytest

from clips import audio_facts, flat, level, read_clip, write_clip
from vfi.errors import VfiError
from vfi.runtime.interpolator import Interpolator
from vfi.runtime.video import EncoderOptions, process_video

pytestmark = pytest.mark.usefixtures("toy_registered")

FFV1 = EncoderOptions(codec="ffv1")


def blend(scene_threshold=None):
    return Interpolator(model="toy_blend", scene_threshold=scene_threshold)


def ramp(count: int, step: int = 20, start: int = 20, **size) -> list[np.ndarray]:
    return [flat(start + step * i, **size) for i in range(count)]


def test_factor_2_gives_2n_minus_1_frames_on_the_grid_with_the_input_duration(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(10))
    summary = process_video(blend(), source, tmp_path / "out.mp4", factor=2, encoder=FFV1)
    out = read_clip(tmp_path / "out.mp4")
    assert len(out.frames) == summary.written == summary.expected == 19
    assert (summary.original, summary.interpolated, summary.lost) == (10, 9, 0)
    assert out.stream["base_rate"] == 50
    assert out.times == [F(k, 50) for k in range(19)]
    assert out.stream["duration"] == read_clip(source).stream["duration"] == F(10, 25)
    levels = [level(f) for f in out.frames]
    np.testing.assert_allclose(levels, [20 + 10 * k for k in range(19)], atol=1.0)
    original = read_clip(source).frames
    for k in range(0, 19, 2):  # input frames pass through as decoded
        np.testing.assert_array_equal(out.frames[k], original[k // 2])


def test_24000_1001_to_60000_1001_interpolates_at_exact_timesteps(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(9, step=25, start=0), rate=F(24000, 1001))
    summary = process_video(blend(), source, tmp_path / "out.mp4", fps="60000/1001", encoder=FFV1)
    out = read_clip(tmp_path / "out.mp4")
    assert len(out.frames) == summary.written == 8 * 5 // 2 + 1  # 2.5 output frames per input interval
    assert out.times == [F(1001 * k, 60000) for k in range(21)]
    # output k is at input position k / 2.5: t cycles through 0, 0.4, 0.8, 0.2, 0.6
    np.testing.assert_allclose([level(f) for f in out.frames], [25 * k / 2.5 for k in range(21)], atol=1.0)
    assert summary.output_rate.startswith("60000/1001")


def test_midpoint_models_use_bisection_for_factor_4(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(4, step=40))
    interp = Interpolator(model="toy_mid", scene_threshold=None)
    summary = process_video(interp, source, tmp_path / "out.mp4", factor=4, encoder=FFV1)
    out = read_clip(tmp_path / "out.mp4")
    assert len(out.frames) == 13 and summary.interpolated == 9 and summary.inferences == 9
    np.testing.assert_allclose([level(f) for f in out.frames], [20 + 10 * k for k in range(13)], atol=1.0)


def test_midpoint_models_take_the_nearest_step_for_factor_3(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(3, step=80))
    interp = Interpolator(model="toy_mid", scene_threshold=None)
    process_video(interp, source, tmp_path / "out.mp4", factor=3, encoder=FFV1)
    levels = [level(f) for f in read_clip(tmp_path / "out.mp4").frames]
    # targets 1/3 and 2/3 of each interval are computed at the nearest quarter: 1/4 and 3/4
    np.testing.assert_allclose(levels, [20, 40, 80, 100, 120, 160, 180], atol=1.0)


def test_variable_frame_rate_input_is_interpolated_at_the_output_timestamps(tmp_path):
    times = [F(0), F(1, 10), F(3, 10), F(4, 10), F(7, 10), F(8, 10)]
    levels_in = [0, 40, 60, 100, 130, 190]
    source = write_clip(tmp_path / "in.mkv", [flat(v) for v in levels_in], times=times, rate=F(10))
    summary = process_video(blend(), source, tmp_path / "out.mp4", fps=20, encoder=FFV1)
    out = read_clip(tmp_path / "out.mp4")
    assert out.times == [F(k, 20) for k in range(17)]
    expected = np.interp([k / 20 for k in range(17)], [float(t) for t in times], levels_in)
    np.testing.assert_allclose([level(f) for f in out.frames], expected, atol=1.0)
    assert summary.lost == 0


def test_odd_sizes_are_preserved(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(3, height=179, width=322), codec="libx264", pix_fmt="yuv444p",
                        options={"qp": "0"})
    process_video(blend(), source, tmp_path / "out.mp4", factor=2)
    out = read_clip(tmp_path / "out.mp4")
    assert (out.stream["width"], out.stream["height"], out.stream["pix_fmt"]) == (322, 179, "yuv444p")
    assert len(out.frames) == 5 and out.frames[0].shape == (179, 322, 3)


def test_odd_sizes_in_a_chroma_subsampled_format_are_refused(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(3, height=179, width=322), codec="libx264", pix_fmt="yuv444p")
    with pytest.raises(VfiError, match="cannot hold 322x179 frames; use --pix-fmt yuv444p"):
        process_video(blend(), source, tmp_path / "out.mp4", encoder=EncoderOptions(pix_fmt="yuv420p"))
    assert not (tmp_path / "out.mp4").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_aac_audio_is_copied_untouched_and_stays_in_sync(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(25, step=5), audio_seconds=1.0, codec="libx264")
    summary = process_video(blend(), source, tmp_path / "out.mp4", factor=2)
    assert summary.remuxed_streams == ["#1 audio aac"]
    before, after = audio_facts(source), audio_facts(tmp_path / "out.mp4")
    assert after == before and after["samples"] >= 48000
    with av.open(str(source)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        packets_in = [bytes(p) for p in a.demux(audio=0) if p.size]
        packets_out = [bytes(p) for p in b.demux(audio=0) if p.size]
    assert packets_in == packets_out
    video_in, video_out = read_clip(source), read_clip(tmp_path / "out.mp4")
    assert video_out.stream["duration"] == video_in.stream["duration"] == 1
    assert video_out.times[0] == video_in.times[0] == 0 == after["start"]


def test_subtitles_are_copied_untouched(tmp_path):
    lines = [("first line", F(0), F(1, 5)), ("second line", F(3, 10), F(1, 10))]
    source = write_clip(tmp_path / "in.mkv", ramp(10), subtitles=lines)
    summary = process_video(blend(), source, tmp_path / "out.mkv", encoder=FFV1)
    assert summary.remuxed_streams == ["#1 subtitle srt"]
    with av.open(str(tmp_path / "out.mkv")) as out:
        stream = out.streams.subtitles[0]
        copied = [(bytes(p).decode(), p.pts * stream.time_base, p.duration * stream.time_base)
                  for p in out.demux(stream) if p.size]
    assert copied == lines


def test_a_hard_scene_cut_repeats_instead_of_warping(tmp_path):
    frames = [flat(30)] * 4 + [flat(220)] * 4
    source = write_clip(tmp_path / "in.mp4", frames)
    summary = process_video(blend(0.10), source, tmp_path / "out.mp4", factor=4, encoder=FFV1)
    levels = [level(f) for f in read_clip(tmp_path / "out.mp4").frames]
    assert len(levels) == 29 and all(abs(v - 30) <= 1 or abs(v - 220) <= 1 for v in levels)
    assert levels[12:17] == pytest.approx([30, 30, 30, 30, 220], abs=1)  # the cut is between input 3 and 4
    assert (summary.scene_cuts, summary.repeated_at_cuts) == (1, 3)
    process_video(blend(None), source, tmp_path / "warped.mp4", factor=4, encoder=FFV1)
    warped = [level(f) for f in read_clip(tmp_path / "warped.mp4").frames]
    assert warped[13] == pytest.approx(30 + 190 / 4, abs=1)  # without detection it blends across


def test_10_bit_input_stays_10_bit(tmp_path):
    # input levels 4 ten-bit steps apart: midpoints computed through 8 bits would land on
    # multiples of ~4 steps, 2 steps away from the true midpoint
    frames = [np.full((48, 64, 3), round(v * 65535 / 1023), np.uint16) for v in (400, 404, 408)]
    source = write_clip(tmp_path / "in.mkv", frames, pix_fmt="yuv420p10le")
    summary = process_video(blend(), source, tmp_path / "out.mkv", factor=2, encoder=FFV1)
    out = read_clip(tmp_path / "out.mkv", deep=True)
    assert out.stream["pix_fmt"] == "yuv420p10le" and summary.pix_fmt == "yuv420p10le"
    decoded = np.array([level(f) for f in read_clip(source, deep=True).frames]) * 1023 / 65535
    levels = np.array([level(f) for f in out.frames]) * 1023 / 65535
    np.testing.assert_array_equal(levels[::2], decoded)  # input frames pass through
    # within half a 10-bit luma step (1023/876 RGB steps in limited range) of the true midpoints
    np.testing.assert_allclose(levels[1::2], (decoded[:-1] + decoded[1:]) / 2, atol=0.6)


def test_10_bit_input_into_an_8_bit_format_on_request(tmp_path):
    frames = [np.full((48, 64, 3), v * 64, np.uint16) for v in (400, 600)]
    source = write_clip(tmp_path / "in.mkv", frames, pix_fmt="yuv420p10le")
    process_video(blend(), source, tmp_path / "out.mp4", encoder=EncoderOptions(codec="ffv1", pix_fmt="yuv420p"))
    out = read_clip(tmp_path / "out.mp4")
    assert out.stream["pix_fmt"] == "yuv420p"
    np.testing.assert_allclose([level(f) for f in out.frames], [400 / 1023 * 255, 500 / 1023 * 255, 600 / 1023 * 255], atol=1.0)


def test_rotation_metadata_is_copied_and_pixels_are_not_rotated(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(3, height=48, width=64), rotation=90)
    process_video(blend(), source, tmp_path / "out.mp4", encoder=FFV1)
    out = read_clip(tmp_path / "out.mp4")
    assert out.stream["rotation"] == read_clip(source).stream["rotation"] == 90
    assert (out.stream["width"], out.stream["height"]) == (64, 48)


@pytest.mark.parametrize("codec, pix_fmt, options", [
    ("libx264", "yuv420p", {"crf": 30}),
    ("libx265", "yuv420p", {"bitrate": 200_000}),
    ("libsvtav1", "yuv420p", {"crf": 40, "preset": "12"}),
    ("ffv1", "yuv444p", {}),
])
def test_encoders(tmp_path, codec, pix_fmt, options):
    source = write_clip(tmp_path / "in.mp4", ramp(3, height=64, width=64))
    encoder = EncoderOptions(codec=codec, pix_fmt=pix_fmt, **options)
    summary = process_video(blend(), source, tmp_path / "out.mp4", encoder=encoder)
    out = read_clip(tmp_path / "out.mp4")
    assert out.stream["codec"] in {"libx264": {"h264"}, "libx265": {"hevc"}, "libsvtav1": {"libdav1d", "av1"}, "ffv1": {"ffv1"}}[codec]
    assert out.stream["pix_fmt"] == pix_fmt and len(out.frames) == summary.written == 5
    np.testing.assert_allclose([level(f) for f in out.frames], [20, 30, 40, 50, 60], atol=3)


def test_encoder_option_errors_come_before_any_work(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(2))
    with pytest.raises(VfiError, match="ffv1 is lossless"):
        process_video(blend(), source, tmp_path / "out.mp4", encoder=EncoderOptions(codec="ffv1", crf=20))
    with pytest.raises(VfiError, match="libx264 cannot encode pixel format rgb24"):
        process_video(blend(), source, tmp_path / "out.mp4", encoder=EncoderOptions(pix_fmt="rgb24"))
    with pytest.raises(VfiError, match="--factor must be an integer from 2 to 256"):
        process_video(blend(), source, tmp_path / "out.mp4", factor=1)
    with pytest.raises(VfiError, match="not a frame rate"):
        process_video(blend(), source, tmp_path / "out.mp4", fps="fast")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_batch_size_does_not_change_the_result(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(7, step=30))
    for batch in (1, 3, 16):
        interp = Interpolator(model="toy_blend", batch_size=batch, scene_threshold=None)
        process_video(interp, source, tmp_path / f"out{batch}.mp4", factor=3, encoder=FFV1)
    outputs = [read_clip(tmp_path / f"out{batch}.mp4").frames for batch in (1, 3, 16)]
    assert len(outputs[0]) == 19
    for other in outputs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(outputs[0], other))


def test_input_frames_out_of_time_order_are_counted_as_lost():
    from vfi.frames.thumbnails import thumbnail
    from vfi.runtime.video import Decoded, Scheduler, VideoSummary

    summary = VideoSummary(input="in", output="out", model="toy")
    scheduler = Scheduler(blend(), F(50), F(25), summary)
    for index, time_ in enumerate([F(0), F(1, 25), F(1, 25), F(2, 25)]):  # a repeated timestamp
        pixels = np.full((3, 4, 4), index / 10, np.float32)
        scheduler.add(Decoded(index, time_, F(1, 25), pixels, thumbnail(pixels), frame=None))
    scheduler.finish()
    slots = list(scheduler.ready())
    assert [slot.kind for slot in slots] == ["original", "interpolated", "original", "interpolated", "original"]
    assert (summary.decoded, summary.skipped_input) == (3, 1)
    summary.expected = summary.written = len(slots)
    assert summary.lost == 1


@pytest.mark.parametrize("stage", ["decode", "inference", "encode"])
def test_a_failing_stage_stops_the_pipeline_and_is_reraised_with_context(tmp_path, monkeypatch, stage):
    import threading

    import vfi.runtime.video.sink as video_sink
    import vfi.runtime.video.source as video_source

    source = write_clip(tmp_path / "in.mp4", ramp(12, step=10))
    calls = []

    def failing(real):
        def wrapper(*args, **kwargs):
            calls.append(1)
            if len(calls) == 5:
                raise RuntimeError(f"injected {stage} failure")
            return real(*args, **kwargs)
        return wrapper

    if stage == "decode":
        monkeypatch.setattr(video_source, "video_frame_rgb", failing(video_source.video_frame_rgb))
    elif stage == "encode":
        monkeypatch.setattr(video_sink.Sink, "write", failing(video_sink.Sink.write))
    interp = Interpolator(model="toy_nan" if stage == "inference" else "toy_blend", scene_threshold=None, batch_size=1)
    before = threading.active_count()
    with pytest.raises(Exception) as error:
        process_video(interp, source, tmp_path / "out.mp4", encoder=FFV1)
    if stage == "inference":
        assert "produced NaN or Inf" in str(error.value)
    else:
        assert str(error.value) == f"injected {stage} failure"
        assert any(f"in the {stage} stage" in note and "out.mp4" in note for note in error.value.__notes__)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    assert threading.active_count() == before  # the stages' threads have ended


def test_frames_larger_than_the_limit_are_refused(tmp_path):
    source = write_clip(tmp_path / "in.mp4", ramp(2))
    with pytest.raises(VfiError, match="64x48 frames exceed the limit of 3000 pixels"):
        process_video(blend(), source, tmp_path / "out.mp4", max_pixels=3000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_progress_line_only_when_enabled():
    import io

    from vfi.runtime.progress import Progress

    for enabled in (True, False):
        stream = io.StringIO()
        with Progress(40, enabled=enabled, stream=stream) as meter:
            meter.shown -= 1  # as if the last line were a second old
            meter.update(10)
        text = stream.getvalue()
        if enabled:
            assert "10/40 frames" in text and "fps ETA" in text and text.endswith("\n")
        else:
            assert text == ""
