"""`vfi calib`: calibration data for INT8 quantization."""

from __future__ import annotations

import argparse
from pathlib import Path


def int_at_least(minimum: int):
    """An argparse type: an integer >= minimum."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="calib_command", required=True)
    collect = sub.add_parser(
        "collect",
        help="calibration samples (frame pairs, or longer runs for DSFN) from videos and image folders, spread "
        "over the input and over motion",
        description="Runs of consecutive frames (pairs by default) from videos (PyAV) and image-sequence folders, "
        "preprocessed as the runtime does, near-duplicates dropped, chosen evenly over the input within motion "
        "strata; written as sample_NNNN.npz files and manifest.json to a new folder.",
    )
    collect.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="video file or folder of images")
    collect.add_argument("-o", "--output", type=Path, required=True, help="new folder to write")
    collect.add_argument("--samples", type=positive_int, default=32, help="samples to keep (default 32)")
    collect.add_argument(
        "--frames", type=int_at_least(2), default=2,
        help="consecutive frames per sample (default 2, the frame-pair models; 3 or 4 for DSFN: a model takes the "
        "first frames of each sample it needs)",
    )
    collect.add_argument(
        "--downscale", type=positive_int, default=1,
        help="average the frames over NxN blocks (DSFN takes low-resolution frames: 4; default 1)",
    )
    collect.add_argument("--strata", type=positive_int, default=4, help="motion strata sharing the pairs equally (default 4)")
    collect.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")


def run(args) -> int:
    from vfi.calib.collect import collect

    manifest = collect(args.inputs, args.output, args.samples, args.frames, args.downscale, args.strata, args.seed)
    counts = manifest["counts"]
    selected = counts["selected"]
    print(
        f"wrote {args.output}: {selected} sample{'s' * (selected != 1)} of {args.frames} frames from "
        f"{len(manifest['sources'])} source(s) ({counts['frames']} frames, {counts['windows']} runs of {args.frames}, "
        f"{counts['duplicates']} duplicates dropped)"
    )
    for source in manifest["sources"]:
        print(f"  {source['path']}: {source['selected']} of {source['windows']}")
    return 0
