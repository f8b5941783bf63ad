"""`vfi calib`: calibration data for INT8 quantization."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="calib_command", required=True)
    collect = sub.add_parser(
        "collect",
        help="frame pairs from videos and image folders, spread over the input and over motion",
        description="Consecutive frame pairs from videos (PyAV) and image-sequence folders, preprocessed as the "
        "runtime does, near-duplicates dropped, chosen evenly over the input within motion strata; written as "
        "pair_NNNN.npz files and manifest.json to a new folder.",
    )
    collect.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="video file or folder of images")
    collect.add_argument("-o", "--output", type=Path, required=True, help="new folder to write")
    collect.add_argument("--pairs", type=positive_int, default=32, help="frame pairs to keep (default 32)")
    collect.add_argument("--strata", type=positive_int, default=4, help="motion strata sharing the pairs equally (default 4)")
    collect.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")


def run(args) -> int:
    from vfi.calib.collect import collect

    manifest = collect(args.inputs, args.output, args.pairs, args.strata, args.seed)
    counts = manifest["counts"]
    print(
        f"wrote {args.output}: {counts['selected']} pairs from {len(manifest['sources'])} source(s) "
        f"({counts['frames']} frames, {counts['pairs']} consecutive pairs, {counts['duplicates']} duplicates dropped)"
    )
    for source in manifest["sources"]:
        print(f"  {source['path']}: {source['selected']} of {source['pairs']} pairs")
    return 0
