"""`vfi interpolate` on video: decode → interpolate → encode, streaming, exact to the frame.

Pipeline. A decode thread demuxes and decodes with PyAV into a bounded queue; the calling thread
schedules output frames and runs the model on batches; an encode thread encodes and muxes from a
second bounded queue. Full queues block the stage before them (backpressure, never dropping). An
exception in any stage stops all three and is re-raised in the caller with a note naming the stage
and input frame; errors about the user's files are VfiErrors naming the file.

Timing. Times are exact Fractions of seconds from the input's time base. Output frame k is at
start + k / rate, where start is the first input frame's time and rate the output rate
(`factor` × the input's average rate, or `fps`), for every such time up to the last input frame's
time: N input frames at factor f give exactly f·(N−1)+1 frames. An output time between input
frames i and i+1 is interpolated at t = (T − T_i) / (T_{i+1} − T_i), so variable-frame-rate input
becomes constant-rate output interpolated at the output timestamps. The last output frame lasts
until the end of the input's last frame, so the output's duration equals the input's and audio
stays in sync. The output stream's time base is fine enough to hold every one of these times.

Pixels. Frames are converted to RGB (16-bit RGB when the input has more than 8 bits per component,
e.g. 10-bit; 8-bit otherwise), interpolated in float32 in [0, 1], rounded to the output's bit
depth and converted with the input's colour matrix and range. The output pixel format defaults to
the input's when the encoder supports it (so 10-bit stays 10-bit), else yuv420p (yuv420p10le for
deep input). Input frames that are output unchanged (t = 0, repeats at scene cuts) are passed to
the encoder as decoded, not through RGB. Formats with alpha and raw Bayer input are refused rather
than silently flattened.

Other streams. Audio and subtitle streams are copied packet for packet, timestamps untouched. A
rotation (display matrix) is copied to the output stream, so the pixels are never rotated — except
for y4m output, which cannot carry it: there it is applied to the pixels, once.

Safety. The output is written to a temporary file in the output's folder and renamed over the
output only on success; any failure, Ctrl-C or SIGTERM removes it. With keep_partial, the first signal
finishes the current batch and finalises a valid shorter file (the second aborts). The summary
counts every frame; `VideoSummary.lost` is nonzero when an output frame was not written, an input
frame could not be placed in time, or input frames were lost to damage: a damaged or truncated
input is decoded as far as it goes (rejected packets skipped) and the frames missing are counted
from what its header announces (a frame count, Matroska's end time, or a y4m file's size).
Output rates are at most MAX_FACTOR × the input's.
"""

from vfi.frames.images import DEFAULT_MAX_PIXELS
from vfi.runtime.video.options import MAX_FACTOR, PIPE, VideoError, parse_rate, parse_size, storable_rate
from vfi.runtime.video.schedule import Scheduler
from vfi.runtime.video.sink import CODECS, DEFAULT_CODEC, EncoderOptions, encoder_options
from vfi.runtime.video.source import END, Decoded, Source
from vfi.runtime.video.stages import process_video
from vfi.runtime.video.summary import VideoSummary
from vfi.runtime.video.threads import Pipeline

__all__ = [
    "CODECS", "DEFAULT_CODEC", "DEFAULT_MAX_PIXELS", "END", "MAX_FACTOR", "PIPE", "Decoded", "EncoderOptions",
    "Pipeline", "Scheduler", "Source", "VideoError", "VideoSummary", "encoder_options", "parse_rate",
    "parse_size", "process_video", "storable_rate",
]
