"""`vfi interpolate`: a video (or y4m pipe) to a higher frame rate, or the frame between two images.

    vfi interpolate INPUT OUTPUT [--factor N | --fps R] [--model NAME | --onnx FILE | --engine FILE]
    vfi interpolate - - --factor 2                      # y4m on stdin to y4m on stdout
    vfi interpolate frame0.png frame1.png -o mid.png [--t 0.5]
    vfi interpolate INPUT OUTPUT --ray [ADDRESS] [--workers N]  # split across Ray workers

Exit status: 0 on success; 1 when frames were lost (the summary says which); 2 for bad input or
options (one line naming the file and the problem); 130 when interrupted by Ctrl-C or SIGTERM
(which behave alike: see --keep-partial).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

EXIT_LOST = 1
EXIT_INTERRUPTED = 130


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="INPUT OUTPUT for video ('-' = y4m on stdin/stdout), or FRAME0 FRAME1 with -o for images")
    parser.add_argument("-o", "--output", help="the output file (images: required; video: instead of OUTPUT)")
    add_video_arguments(parser, images=True)


def add_video_arguments(parser, images: bool = False) -> None:
    """The model, backend, timing, encoding, scale-out and run options of `vfi interpolate`
    (shared with `vfi batch`, which has no image mode and no --keep-partial)."""
    from vfi.runtime.backends.configs import BACKENDS, DEVICES, ORT_PROVIDERS, TORCH_DTYPES
    from vfi.runtime.choice import MAX_STREAMS
    from vfi.runtime.interpolator import DEFAULT_BATCH_SIZE, DEFAULT_MODEL, DEFAULT_SCENE_THRESHOLD
    from vfi.runtime.video import CODECS, DEFAULT_CODEC, DEFAULT_MAX_PIXELS

    model = parser.add_argument_group("model (one of)")
    source = model.add_mutually_exclusive_group()
    source.add_argument("--model", help=f"a registered model (`vfi models`; default {DEFAULT_MODEL})")
    add_quality_argument(source)
    source.add_argument("--onnx", type=Path, help="an ONNX file from `vfi export`")
    source.add_argument("--engine", type=Path, help="a TensorRT engine from `vfi build` (with its .json sidecar)")
    model.add_argument("--weights", type=Path, help="checkpoint or .safetensors for --model (default: seeded random weights)")
    model.add_argument("--seed", type=int, default=0, help="seed of the random weights without --weights")
    backend = parser.add_argument_group("backend")
    backend.add_argument("--backend", choices=BACKENDS,
                         help="default: the fastest here (--model: torch on a CUDA GPU, else ort on its cached ONNX export); "
                         "ort for --onnx, trt for --engine")
    backend.add_argument("--device", choices=DEVICES, help="default: cuda when PyTorch sees a CUDA GPU, else cpu")
    backend.add_argument("--dtype", "--precision", dest="dtype", choices=TORCH_DTYPES, default="fp32",
                         help="the torch backend's compute dtype (--precision: its former name; an ONNX file's or "
                         "engine's precision is set by `vfi export --precision`)")
    backend.add_argument("--provider", choices=list(ORT_PROVIDERS), help="ONNX Runtime execution provider")
    backend.add_argument("--plugins", type=Path, help="the vfi TensorRT plugin library (trt backend; ort with --provider tensorrt)")
    backend.add_argument("--threads", type=int,
                         help="CPU threads per inference (default: ort on a CPU: usable cores / streams; torch: its own; "
                         "--ray: each worker's share of the cluster's CPUs, divided as one process divides its cores)")
    backend.add_argument("--streams", type=int,
                         help=f"ort backend: concurrent inferences, each on a share of the batch (default on a CPU: one per "
                         f"usable core, at most {MAX_STREAMS}; else 1)")
    backend.add_argument("--batch-size", type=int,
                         help=f"frames per inference (default {DEFAULT_BATCH_SIZE}, or the number of streams if more)")
    timing = parser.add_argument_group("timing")
    rate = timing.add_mutually_exclusive_group()
    rate.add_argument("--factor", type=int, help="output rate = N × input rate (default 2)")
    rate.add_argument("--fps", help="output rate, e.g. 60 or 60000/1001 (exact)")
    if images:
        timing.add_argument("--t", type=float, default=0.5, help="images: the time between the two frames (default 0.5)")
    timing.add_argument("--scene-threshold", type=float, default=DEFAULT_SCENE_THRESHOLD,
                        help=f"scene-cut threshold, mean absolute thumbnail difference (default {DEFAULT_SCENE_THRESHOLD})")
    timing.add_argument("--no-scene-detect", action="store_true", help="interpolate across scene cuts too")
    encoding = parser.add_argument_group("encoding")
    encoding.add_argument("--codec", choices=list(CODECS), default=DEFAULT_CODEC, help=f"video encoder (default {DEFAULT_CODEC})")
    quality = encoding.add_mutually_exclusive_group()
    quality.add_argument("--crf", type=int, help="constant quality (defaults: " + ", ".join(f"{c} {q}" for c, (q, _) in CODECS.items() if q) + ")")
    quality.add_argument("--bitrate", help="target bit rate instead of CRF, e.g. 8M or 2500k")
    encoding.add_argument("--pix-fmt", help="output pixel format (default: the input's when the encoder supports it)")
    encoding.add_argument("--preset", help="encoder speed preset (libx264: ultrafast…veryslow, default veryfast; libx265: "
                          "ultrafast…veryslow; libsvtav1: 0…13)")
    scale = parser.add_argument_group("scale-out (Ray; pip install 'vfi[ray]')")
    scale.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="split each video into chunks interpolated by Ray workers: a local Ray cluster without "
                       "ADDRESS, else the cluster at ADDRESS ('auto': the one this machine belongs to)")
    scale.add_argument("--workers", type=int,
                       help="--ray: workers, each holding one model instance (default: one per GPU of the cluster, "
                       "else one per CPU)")
    scale.add_argument("--chunks", type=int, help="--ray: chunks per video (default 4 per worker)")
    run = parser.add_argument_group("run")
    if images:
        run.add_argument("--keep-partial", action="store_true",
                         help="on Ctrl-C or SIGTERM, finish the current frames and keep a shorter file (a second one aborts)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON (on stderr when the video goes to stdout)")
    run.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                     help=f"largest frame or image accepted, checked from its header (default {DEFAULT_MAX_PIXELS}, 8K)")


def run(args) -> int:
    from vfi.errors import VfiError

    paths = list(args.paths)
    if args.output is not None:
        paths.append(args.output)
    if len(paths) not in (2, 3) or (len(paths) == 3 and args.output is None):
        raise VfiError("give INPUT OUTPUT (video) or FRAME0 FRAME1 -o OUTPUT (images)")
    for path in paths[:-1]:  # before loading the model, which can take a while
        if path != "-" and not Path(path).exists():
            raise VfiError(f"{path}: no such file")
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # a service manager's stop, like Ctrl-C
    try:
        return _run(args, paths)
    except KeyboardInterrupt:
        print(f"\nvfi interpolate: interrupted; {paths[-1]} was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)



def _run(args, paths: list[str]) -> int:
    from vfi.errors import VfiError
    from vfi.runtime.interpolator import Interpolator

    check_scaleout_arguments(args)
    if args.ray is not None:
        if len(paths) == 3:
            raise VfiError("--ray splits videos across workers; interpolate two images without it")
        if args.keep_partial:
            raise VfiError("--keep-partial does not apply to --ray runs")
        if "-" in paths:
            raise VfiError("--ray reads and writes files, not pipes ('-')")
        from vfi.runtime.scaleout.cluster import RayRunner

        with RayRunner(interpolator_options(args), address=args.ray or None, workers=args.workers,
                       progress=sys.stderr.isatty()) as runner:
            return report_video(process_video_ray(runner, *paths, args), args, paths[-1])
    with Interpolator(**interpolator_options(args)) as interpolator:
        if len(paths) == 3:
            return _images(interpolator, *paths, args.t, args.max_pixels)
        return report_video(process_video_args(interpolator, *paths, args), args, paths[-1])


def add_quality_argument(parser) -> None:
    from vfi.models.classic_net import QUALITY_MODELS

    parser.add_argument("--quality", choices=list(QUALITY_MODELS),
                        help="the weight-free default's speed/quality preset: " + ", ".join(
                            f"{quality} = --model {name}" for quality, name in QUALITY_MODELS.items())
                        + " (numbers in docs/classic.md)")


def model_option(args) -> str | None:
    """--model, or the model that --quality names."""
    from vfi.models.classic_net import QUALITY_MODELS

    return QUALITY_MODELS[args.quality] if args.quality else args.model


def check_scaleout_arguments(args) -> None:
    from vfi.errors import VfiError

    for name in ("workers", "chunks"):
        if getattr(args, name) is not None and args.ray is None:
            raise VfiError(f"--{name} applies to --ray runs")


def interpolator_options(args) -> dict:
    """The Interpolator's keyword arguments from the command line."""
    return dict(
        model=model_option(args), backend=args.backend, weights=args.weights, onnx=args.onnx, engine=args.engine,
        device=args.device, dtype=args.dtype, provider=args.provider, plugins=args.plugins, threads=args.threads,
        streams=args.streams, batch_size=args.batch_size,
        scene_threshold=None if args.no_scene_detect else args.scene_threshold, seed=args.seed,
    )


def _images(interpolator, path0: str, path1: str, output: str, t: float, max_pixels: int) -> int:
    from vfi.errors import VfiError
    from vfi.frames.images import read_rgb, write_rgb

    frame0, frame1 = read_rgb(path0, max_pixels), read_rgb(path1, max_pixels)
    if frame0.shape != frame1.shape:
        raise VfiError(f"{path0} is {frame0.shape[3]}x{frame0.shape[2]} but {path1} is {frame1.shape[3]}x{frame1.shape[2]}")
    (middle,) = interpolator.interpolate_float(frame0[0], frame1[0], t)
    write_rgb(middle[None], output)
    print(f"wrote {output} (t={t}, {interpolator.describe()}; path: {interpolator.path})", file=sys.stderr)
    return 0


def encoder_arguments(args):
    from vfi.runtime.video import EncoderOptions

    return EncoderOptions(codec=args.codec, crf=args.crf, bitrate=_bitrate(args.bitrate), pix_fmt=args.pix_fmt, preset=args.preset)


def process_video_args(interpolator, input: str, output: str, args, progress: bool | None = None):
    from vfi.runtime.video import process_video

    return process_video(
        interpolator, input, output, factor=args.factor, fps=args.fps, encoder=encoder_arguments(args),
        keep_partial=getattr(args, "keep_partial", False), max_pixels=args.max_pixels,
        progress=sys.stderr.isatty() if progress is None else progress,
    )


def process_video_ray(runner, input: str, output: str, args):
    from vfi.runtime.scaleout.driver import process_video_split

    return process_video_split(
        runner, input, output, factor=args.factor, fps=args.fps, encoder=encoder_arguments(args),
        chunk_count=args.chunks, max_pixels=args.max_pixels,
    )


def report_video(summary, args, output: str) -> int:
    """Prints the summary (or its JSON); the exit status."""
    from vfi.runtime.video import PIPE

    if args.json:
        print(json.dumps(summary.to_dict(), indent=2), file=sys.stderr if output == PIPE else sys.stdout)
    else:
        print(summary.report(), file=sys.stderr)
    if summary.partial:
        print(f"vfi interpolate: interrupted; {output} holds the first {summary.written} frames", file=sys.stderr)
        return EXIT_INTERRUPTED
    if summary.lost:
        print(
            f"vfi interpolate: error: {summary.lost} frames lost ({summary.damaged_input} input frames damaged, "
            f"{summary.skipped_input} out of time order, {summary.expected - summary.written} output frames not "
            "written)", file=sys.stderr,
        )
        return EXIT_LOST
    return 0


def _bitrate(text: str | None) -> int | None:
    from vfi.errors import VfiError

    if text is None:
        return None
    units = {"k": 10**3, "m": 10**6, "g": 10**9}
    try:
        value = float(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else float(text)
    except (ValueError, IndexError):
        raise VfiError(f"--bitrate: not a bit rate: {text!r} (examples: 8M, 2500k, 800000)") from None
    if not 0 < value < 10**12:
        raise VfiError(f"--bitrate: the bit rate must be positive and below 1T, got {text}")
    return int(value)
