"""`vfi demo` on a fresh machine: writes the clip and its interpolation and says where they are."""

from __future__ import annotations

from fractions import Fraction

import av

from toy_models import run_vfi


def test_demo_writes_both_videos_and_prints_their_paths(tmp_path):
    folder = tmp_path / "out"
    result = run_vfi("demo", "-o", str(folder), "--frames", "5", "--size", "128x80")
    assert result.returncode == 0, result.stderr.decode()
    clip, interpolated = result.stdout.decode().split()
    assert (clip, interpolated) == (str(folder / "synthetic.mp4"), str(folder / "synthetic-2x.mp4"))
    with av.open(clip) as c, av.open(interpolated) as i:
        source, output = c.streams.video[0], i.streams.video[0]
        assert (source.width, source.height, output.width, output.height) == (128, 80, 128, 80)
        assert output.base_rate == 2 * source.base_rate == Fraction(24)
        assert sum(1 for _ in c.decode(source)) == 5 and sum(1 for _ in i.decode(output)) == 9
    stderr = result.stderr.decode()
    assert "classic" in stderr and "lost 0" in stderr


def test_demo_bad_size_is_one_line(tmp_path):
    result = run_vfi("demo", "-o", str(tmp_path), "--size", "big")
    assert result.returncode == 2
    assert result.stderr.decode().strip() == "vfi demo: error: --size: expected WxH such as 1280x720, got 'big'"
