"""FFmpeg's motion-compensated frame interpolation (the `minterpolate` filter) through PyAV's filter
graph: the classical baseline that `vfi eval --baseline minterpolate` and `vfi bench minterpolate`
measure the models against.

Settings: mi_mode=mci (motion-compensated interpolation), mc_mode=aobmc (adaptive overlapped
block motion compensation), me_mode=bidir (bidirectional motion estimation), vsbmc=1 (variable
block size), the filter's best-quality combination.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

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


def interpolate_file(source: str | os.PathLike, target: str | os.PathLike, factor: int) -> int:
    """FFmpeg's equivalent of `vfi interpolate SOURCE TARGET --factor N`: the first video stream of
    `source` through minterpolate at `factor` × its rate, encoded as `vfi interpolate` encodes by
    default (vfi.runtime.video: DEFAULT_CODEC with its default CRF and preset, the input's pixel
    format), to a temporary file renamed onto `target`; returns the number of frames written."""
    import av

    from vfi.fileio import replaced_on_success
    from vfi.runtime.video import DEFAULT_CODEC, EncoderOptions, encoder_options

    target = Path(target)
    with replaced_on_success(target, target.suffix) as tmp, av.open(str(source)) as reader, \
            av.open(str(tmp), "w", format="mp4") as writer:
        stream = reader.streams.video[0]
        stream.thread_type = "AUTO"  # as vfi's decoder
        rate = Fraction(stream.average_rate or stream.guessed_rate) * factor
        context = stream.codec_context
        graph = _graph(
            {"width": context.width, "height": context.height, "format": context.format.name, "time_base": stream.time_base},
            rate,
            None,
        )
        output = writer.add_stream(DEFAULT_CODEC, rate=rate)
        output.width, output.height, output.pix_fmt = context.width, context.height, context.format.name
        output.time_base = output.codec_context.time_base = 1 / rate
        output.options = encoder_options(DEFAULT_CODEC, EncoderOptions())
        written = 0

        def encode(frames) -> None:
            nonlocal written
            for frame in frames:
                frame.pts, frame.time_base = written, 1 / rate
                writer.mux(output.encode(frame))
                written += 1

        for frame in reader.decode(stream):
            graph.push(frame)
            encode(_pull_all(graph))
        graph.push(None)
        encode(_pull_all(graph))
        writer.mux(output.encode(None))
    return written
