"""FFmpeg's motion-compensated frame interpolation (the `minterpolate` filter) through PyAV's filter
graph: the classical baseline that `vfi eval --baseline minterpolate` and `vfi bench minterpolate`
measure the models against.

Settings: mi_mode=mci (motion-compensated interpolation), mc_mode=aobmc (adaptive overlapped
block motion compensation), me_mode=bidir (bidirectional motion estimation), vsbmc=1 (variable
block size), the filter's best-quality combination.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

OPTIONS = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"
# minterpolate works on planar YUV; 4:4:4 keeps full-resolution chroma for RGB frames.
RGB_WORKING_FORMAT = "yuv444p"


def _graph(buffer_args: dict, fps: Fraction, convert_to: str | None):
    """A configured graph: buffer → [format] → minterpolate at `fps` → [format rgb24] → sink."""
    import av

    graph = av.filter.Graph()
    chain = [graph.add_buffer(**buffer_args)]
    if convert_to:
        chain.append(graph.add("format", convert_to))
    chain.append(graph.add("minterpolate", f"fps={fps.numerator}/{fps.denominator}:{OPTIONS}"))
    if convert_to:
        chain.append(graph.add("format", "rgb24"))
    chain.append(graph.add("buffersink"))
    for upstream, downstream in zip(chain, chain[1:]):
        upstream.link_to(downstream)
    graph.configure()
    return graph


def _pull_all(graph) -> list:
    import av

    frames = []
    while True:
        try:
            frames.append(graph.pull())
        except (av.BlockingIOError, av.EOFError):
            return frames


def midpoint(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    """minterpolate's frame halfway between two HxWx3 uint8 RGB frames.

    The filter needs frames on both sides of an interval before it interpolates, so each frame
    is given twice (frame0, frame0, frame1, frame1 at one frame per second) and the output at
    1.5 s of the doubled rate is taken. This reproduces the 33.00 dB that ../shared/data/README.md
    lists for minterpolate on Middlebury."""
    import av

    height, width = frame0.shape[:2]
    graph = _graph(
        {"width": width, "height": height, "format": "rgb24", "time_base": Fraction(1)}, Fraction(2), RGB_WORKING_FORMAT
    )
    outputs = []
    for pts, frame in enumerate((frame0, frame0, frame1, frame1)):
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        picture.pts, picture.time_base = pts, Fraction(1)
        graph.push(picture)
        outputs += _pull_all(graph)
    graph.push(None)
    outputs += _pull_all(graph)
    (middle,) = [f for f in outputs if f.pts * f.time_base == Fraction(3, 2)]
    return middle.to_ndarray(format="rgb24")


def interpolate_stream(frames: list, rate: Fraction, factor: int) -> int:
    """Run the decoded video frames `frames` (PyAV VideoFrames of one stream, in a format the
    filter takes, such as yuv420p) through minterpolate at `factor` × `rate`; the number of
    frames it returns."""
    first = frames[0]
    graph = _graph(
        {"width": first.width, "height": first.height, "format": first.format.name, "time_base": first.time_base},
        rate * factor,
        None,
    )
    count = 0
    for frame in frames:
        graph.push(frame)
        count += len(_pull_all(graph))
    graph.push(None)
    return count + len(_pull_all(graph))
