"""A long run: generated 24000/1001 fps video with an AAC track through `vfi interpolate --fps
60000/1001` with the blend test model, so the time goes to the pipeline. The output has exactly
the frames exact rational arithmetic gives, ends within one output frame of the audio, and carries
the audio packets bit for bit.

The default run interpolates 10 minutes of media; VFI_LONG_RUN_MINUTES=60 runs the hour recorded
in docs/reliability.md.
"""

from __future__ import annotations

import json
import math
import os
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vfi.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("toy_registered")]

INPUT_RATE = Fraction(24000, 1001)
OUTPUT_RATE = Fraction(60000, 1001)
AUDIO_RATE = 48000
AAC_FRAME = 1024  # samples per AAC packet
SIZE = 16  # pixels a side: the pipeline's cost per frame, not the model's
# Video frames come in multiples of this so that the video's duration is a whole number of AAC
# packets (N · 1001/24000 s · 48000 Hz = 2002 N samples, a multiple of 1024 when 512 divides N).
FRAME_QUANTUM = 512


def _frames_for(minutes: float) -> int:
    return max(1, round(minutes * 60 * INPUT_RATE / FRAME_QUANTUM)) * FRAME_QUANTUM


def write_long_clip(path: Path, frames: int) -> None:
    """`frames` 16×16 H.264 frames at 24000/1001 fps (a level ramp) and an AAC sine of the same
    duration, streamed: nothing is held in memory."""
    samples = frames * 1001 * AUDIO_RATE // 24000
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=INPUT_RATE)
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "23"}
        audio = out.add_stream("aac", rate=AUDIO_RATE)
        audio.layout = "mono"
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(AAC_FRAME) / AUDIO_RATE)).astype(np.float32)[None]
        audio_pts = 0
        for i in range(frames):
            pixels = np.full((SIZE, SIZE, 3), 16 + (i % 200), np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
            while audio_pts < min(samples, (i + 1) * 1001 * AUDIO_RATE // 24000):  # interleaved as it goes
                chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = AUDIO_RATE, audio_pts
                out.mux(audio.encode(chunk))
                audio_pts += AAC_FRAME
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def _audio_packets(path: Path) -> list[tuple[bytes, Fraction]]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(bytes(p), p.pts * p.time_base) for p in container.demux(stream) if p.size]


def _video_end(path: Path) -> tuple[int, Fraction]:
    """Frames decoded, and the end (seconds) of the last in display order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count, last = 0, None
        for packet in container.demux(stream):
            if packet.size:
                count += 1
                end = (packet.pts + packet.duration) * packet.time_base
                last = end if last is None else max(last, end)
        return count, last


def test_long_run_keeps_frames_and_audio_exact(tmp_path, capsys, record_property):
    minutes = float(os.environ.get("VFI_LONG_RUN_MINUTES", "10"))
    frames = _frames_for(minutes)
    source, output = tmp_path / "long.mp4", tmp_path / "out.mp4"
    started = time.perf_counter()
    write_long_clip(source, frames)
    generated = time.perf_counter()
    code = main(["interpolate", str(source), str(output), "--fps", "60000/1001", "--model", "toy_blend",
                 "--backend", "torch", "--no-scene-detect", "--preset", "ultrafast", "--json"])
    captured = capsys.readouterr()
    finished = time.perf_counter()
    assert code == 0, captured.err
    summary = json.loads(captured.out)

    expected = math.floor((frames - 1) * OUTPUT_RATE / INPUT_RATE) + 1
    written, video_end = _video_end(output)
    assert summary["expected"] == summary["written"] == written == expected
    input_audio, output_audio = _audio_packets(source), _audio_packets(output)
    assert [data for data, _ in output_audio] == [data for data, _ in input_audio]
    assert [t for _, t in output_audio] == [t for _, t in input_audio]
    audio_end = input_audio[-1][1] + Fraction(AAC_FRAME, AUDIO_RATE)
    assert abs(video_end - audio_end) <= 1 / OUTPUT_RATE, (float(video_end), float(audio_end))
    record_property("long_run", {
        "media_s": round(frames / float(INPUT_RATE), 1), "input_frames": frames, "output_frames": written,
        "generate_s": round(generated - started, 1), "interpolate_s": round(finished - generated, 1),
        "video_end_s": float(video_end), "audio_end_s": float(audio_end),
    })
    print(f"long run: {frames / float(INPUT_RATE):.0f} s of media, {frames} → {written} frames; generated in "
          f"{generated - started:.0f} s, interpolated in {finished - generated:.0f} s; video ends at "
          f"{float(video_end):.4f} s, audio at {float(audio_end):.4f} s")
