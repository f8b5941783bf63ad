"""The output: codec policy (encoders, their CRF/preset defaults and ranges, the pixel format) and
the container the interpolated frames and the copied streams are written to."""

from __future__ import annotations

import os
import sys
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from vfi.errors import VfiError
from vfi.frames.images import to_integer
from vfi.frames.video_frames import swscale_flags, video_frame_rgb
from vfi.runtime.video.options import PIPE, Y4M, VideoError
from vfi.runtime.video.source import Decoded, Source, error_reason
from vfi.runtime.video.summary import VideoSummary

# Encoders and their default (CRF, preset); ffv1 is lossless. libx264's preset is veryfast, not
# its own medium: at 640x360 medium costs 9.1 ms of CPU per frame, veryfast 3.4 ms for a 4 % larger
# file (car-turn.mp4 at CRF 18), and encoding should not cost more than interpolating.
CODECS = {"libx264": (18, "veryfast"), "libx265": (20, None), "libsvtav1": (30, None), "ffv1": (None, None)}
# The CRF ranges and presets each encoder accepts (checked here: the encoders report a bad value in
# their own log lines, after the output was opened).
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libsvtav1": (1, 63)}
PRESETS = {"libx264": _X26X_PRESETS, "libx265": _X26X_PRESETS, "libsvtav1": tuple(str(p) for p in range(14))}
DEFAULT_CODEC = "libx264"
# Pixel formats y4m can carry, for pipe output.
Y4M_PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p", "gray", "yuv420p10le", "yuv422p10le", "yuv444p10le", "gray10le")
_HELD_PACKETS = 64


@dataclass
class EncoderOptions:
    codec: str = DEFAULT_CODEC
    crf: int | None = None  # default: CODECS[codec][0]
    bitrate: int | None = None  # bits per second, instead of CRF
    pix_fmt: str | None = None  # default: see the module docstring
    preset: str | None = None  # default: CODECS[codec][1], else the encoder's own


@dataclass(frozen=True)
class OutputPictures:
    """How output frames become pictures for the encoder: the output pixel format, and the input's
    bit depth, colour matrix and range (the first frame's), and rotation (y4m only)."""

    pix_fmt: str
    bits: int
    colorspace: int
    color_range: int
    rotation: int = 0  # quarter turns applied to the pixels

    def frame(self, picture, pts: int, time_base: Fraction) -> av.VideoFrame:
        """`picture` (an av.VideoFrame as decoded, or float RGB [3, H, W]) in the output format at
        `pts`. A frame passed through as decoded keeps its picture type, which libx264 follows
        (vfi.runtime.scaleout carries it across its intra-only intermediate)."""
        frame = self._converted(picture)
        frame.pts, frame.time_base = pts, time_base  # not the input's time base
        return frame

    def _converted(self, picture) -> av.VideoFrame:
        if isinstance(picture, av.VideoFrame) and not self.rotation:
            if picture.format.name == self.pix_fmt:
                return picture
            return picture.reformat(
                format=self.pix_fmt, src_color_range=picture.color_range, dst_color_range=picture.color_range,
                interpolation=swscale_flags(),
            )
        if isinstance(picture, av.VideoFrame):  # y4m with a rotation: through RGB like the others
            picture = video_frame_rgb(picture, self.bits)
        deep_output = av.VideoFormat(self.pix_fmt).components[0].bits > 8
        dtype, work_format = (np.uint16, "rgb48le") if deep_output else (np.uint8, "rgb24")
        rgb = np.rot90(to_integer(picture, dtype).transpose(1, 2, 0), self.rotation)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=work_format)
        return frame.reformat(
            format=self.pix_fmt, dst_colorspace=self.colorspace, dst_color_range=self.color_range,
            interpolation=swscale_flags(),
        )


class Sink:
    """The output container: the interpolated video stream and the copied streams."""

    def __init__(self, target: str, label: str, source: Source, first: Decoded, rate: Fraction,
                 time_base: Fraction, options: EncoderOptions, summary: VideoSummary):
        self.label, self.summary = label, summary
        self.pipe = target == PIPE
        try:
            self.container = av.open(sys.stdout.buffer, "w", format=Y4M) if self.pipe else av.open(target, "w")
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoError(f"{label}: cannot write this kind of file ({error_reason(exc)}); use e.g. .mp4, .mkv or .mov") from exc
        try:
            self._add_streams(source, first.frame, rate, time_base, options)
        except BaseException:
            self.container.close()
            raise
        self.frame_ticks = round(1 / rate / time_base)
        # The last video packets are held back, so that at the end the last in display order and
        # the last in decoding order (which together end the stream in the container: MP4's edit
        # list and sample table) can last until the end of the input; reordering (B-frames) spans
        # far fewer packets than this.
        self.held: deque[av.Packet] = deque()

    def _add_streams(self, source: Source, first: av.VideoFrame, rate, time_base, options: EncoderOptions) -> None:
        codec = "rawvideo" if self.pipe else options.codec
        pix_fmt = choose_pix_fmt(self.label, codec, options.pix_fmt, source.pix_fmt, source.deep)
        matrix = display_matrix(first)
        rotation = (first.rotation // 90) % 4 if self.pipe else 0
        if self.pipe and matrix is not None and (first.rotation % 90 or matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0):
            raise VideoError(
                f"{source.label}: its display matrix (a {first.rotation}° rotation, or a mirroring) cannot be applied "
                "to y4m output, which has no such metadata; write to a file instead"
            )
        width, height = (source.height, source.width) if rotation % 2 else (source.width, source.height)
        check_even(self.label, pix_fmt, width, height)
        try:
            stream = self.container.add_stream(codec, rate=rate)
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(
                f"{self.label}: cannot write {codec} video to this kind of file ({error_reason(exc)}); use e.g. .mp4, .mkv or .mov"
            ) from exc
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = stream.codec_context.time_base = time_base
        context = stream.codec_context
        self.pictures = OutputPictures(pix_fmt, source.bits, first.colorspace, first.color_range, rotation)
        context.colorspace, context.color_range = first.colorspace, first.color_range
        context.color_primaries, context.color_trc = first.color_primaries, first.color_trc
        if not self.pipe:
            stream.options = encoder_options(codec, options)
            if options.bitrate:
                context.bit_rate = options.bitrate
            if matrix is not None:
                stream.set_display_matrix(matrix)
        self.video = stream
        self.streams = {}
        for template in source.remux:
            name = f"#{template.index} {template.type} {template.codec_context.name}"
            if self.pipe:
                self.summary.dropped_streams.append(f"{name} (y4m carries video only)")
                continue
            try:
                self.streams[template.index] = self.container.add_stream_from_template(template)
            except (av.FFmpegError, ValueError) as exc:
                raise VideoError(f"{self.label}: this container cannot hold the input's {name} stream ({error_reason(exc)})") from exc
            self.summary.remuxed_streams.append(name)
        try:
            self.container.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"{self.label}: cannot start encoding {codec} {pix_fmt} {width}x{height} ({error_reason(exc)})") from exc

    def write(self, pts: int, picture) -> None:
        """Encode one output frame (an av.VideoFrame as decoded, or float RGB [3, H, W]) at `pts`."""
        self._mux(self.video.encode(self.pictures.frame(picture, pts, self.video.codec_context.time_base)))

    def packet(self, packet: av.Packet) -> None:
        stream = self.streams.get(packet.stream.index)
        if stream is not None:
            packet.stream = stream
            self.container.mux(packet)

    def finish(self, final_ticks: int) -> None:
        """Flush the encoder; the last packet lasts `final_ticks`; close the file."""
        self._mux(self.video.encode(None))
        if self.held:
            self.held[-1].duration = max(self.held, key=lambda p: p.pts).duration = final_ticks
        for packet in self.held:
            self.container.mux(packet)
        self.container.close()

    def _mux(self, packets) -> None:
        for packet in packets:
            packet.duration = self.frame_ticks
            self.held.append(packet)
            if len(self.held) > _HELD_PACKETS:
                self.container.mux(self.held.popleft())
            self.summary.written += 1

    def abandon(self) -> None:
        try:
            self.container.close()
        except Exception:  # the file is being discarded; its trailer does not matter
            pass


def choose_pix_fmt(label: str, codec: str, requested: str | None, input_fmt: str, deep: bool) -> str:
    supported = Y4M_PIX_FMTS if codec == "rawvideo" else [f.name for f in av.Codec(codec, "w").video_formats or ()]
    if requested is not None:
        if requested not in supported:
            raise VideoError(f"{label}: {codec} cannot encode pixel format {requested}; it supports {', '.join(supported)}")
        return requested
    if input_fmt in supported:
        return input_fmt
    for candidate in (("yuv420p10le",) if deep else ()) + ("yuv420p",):
        if candidate in supported:
            return candidate
    return supported[0]


def check_even(label: str, pix_fmt: str, width: int, height: int) -> None:
    chroma = av.VideoFormat(pix_fmt, 2, 2).components
    if len(chroma) > 1 and ((chroma[1].width < 2 and width % 2) or (chroma[1].height < 2 and height % 2)):
        raise VideoError(
            f"{label}: {pix_fmt} subsamples chroma and cannot hold {width}x{height} frames; "
            "use --pix-fmt yuv444p (or --codec ffv1)"
        )


def encoder_options(codec: str, options: EncoderOptions) -> dict[str, str]:
    default_crf, default_preset = CODECS[codec]
    if default_crf is None:
        if options.crf is not None or options.bitrate is not None or options.preset is not None:
            raise VfiError(f"{codec} is lossless: --crf, --bitrate and --preset do not apply")
        return {}
    if options.crf is not None and options.bitrate is not None:
        raise VfiError("give --crf or --bitrate, not both")
    low, high = CRF_RANGES[codec]
    if options.crf is not None and not low <= options.crf <= high:
        raise VfiError(f"--crf {options.crf}: {codec} takes {low} to {high}")
    if options.preset is not None and options.preset not in PRESETS[codec]:
        raise VfiError(f"--preset {options.preset}: {codec} takes {', '.join(PRESETS[codec])}")
    result = {} if options.bitrate else {"crf": str(default_crf if options.crf is None else options.crf)}
    if options.preset or default_preset:
        result["preset"] = options.preset or default_preset
    if codec == "libx265":
        result["x265-params"] = "log-level=error"
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 reads its log level from here; 1 = errors only
    return result


def display_matrix(frame: av.VideoFrame) -> list[int] | None:
    for side_data in frame.side_data:
        if side_data.type == av.sidedata.sidedata.Type.DISPLAYMATRIX:
            return np.frombuffer(bytes(side_data), np.int32).tolist()
    return None
