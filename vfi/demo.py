"""`vfi demo`: generate a short clip (vfi.frames.synthetic: textured objects crossing over a
panning textured background) and interpolate it with the default weight-free model, so a fresh
install shows what vfi does without any video or checkpoint of the user's. Prints where both
files are."""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_FOLDER = Path("vfi-demo")


def add_arguments(parser) -> None:
    from vfi.runtime.cli import add_quality_argument
    from vfi.runtime.interpolator import DEFAULT_MODEL
    from vfi.frames.synthetic import DEFAULT_FRAMES, DEFAULT_RATE, DEFAULT_SIZE

    parser.add_argument("-o", "--output-dir", type=Path, default=DEFAULT_FOLDER,
                        help=f"folder for the two videos, created if missing (default ./{DEFAULT_FOLDER})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help=f"a registered model (default {DEFAULT_MODEL})")
    add_quality_argument(source)
    parser.add_argument("--backend", choices=["torch", "ort"], help="default: the fastest here, as `vfi interpolate`")
    parser.add_argument("--threads", type=int, help="CPU threads per inference (default as `vfi interpolate`)")
    parser.add_argument("--factor", type=int, default=2, help="output rate = factor × input rate (default 2)")
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help=f"length of the clip (default {DEFAULT_FRAMES})")
    parser.add_argument("--size", default=f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}", metavar="WxH",
                        help=f"frame size, even numbers (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})")
    parser.add_argument("--seed", type=int, default=0, help="which random scene (default 0)")
    parser.add_argument("--rate", default=str(DEFAULT_RATE), help=f"input frames per second (default {DEFAULT_RATE})")


def run(args) -> int:
    from vfi.errors import VfiError
    from vfi.runtime.cli import model_option
    from vfi.runtime.interpolator import Interpolator
    from vfi.frames.synthetic import Scene, write_mp4
    from vfi.runtime.video import parse_rate, parse_size

    width, height = parse_size(args.size)
    if args.frames < 2:
        raise VfiError(f"--frames must be at least 2, got {args.frames}")
    rate = parse_rate(args.rate, "--rate")
    folder = args.output_dir
    if folder.exists() and not folder.is_dir():
        raise VfiError(f"{folder}: exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)

    clip = folder / "synthetic.mp4"
    write_mp4(Scene(width, height, args.seed, args.frames).frames(args.frames), clip, rate)
    print(f"input:  {clip}  ({args.frames} frames, {width}x{height}, {args.rate} fps, generated)", file=sys.stderr)
    output = folder / f"synthetic-{args.factor}x.mp4"
    with Interpolator(model_option(args), args.backend, threads=args.threads) as interpolator:
        summary = interpolator.process_video(clip, output, factor=args.factor, progress=sys.stderr.isatty())
    print(summary.report(), file=sys.stderr)
    print(f"output: {output}  ({summary.written} frames, {summary.output_rate} fps, {summary.model})", file=sys.stderr)
    print(clip)
    print(output)
    return 0 if not summary.lost else 1
