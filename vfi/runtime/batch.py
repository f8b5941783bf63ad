"""`vfi batch`: every video in a folder (and its subfolders) interpolated into another folder.

    vfi batch INPUT_DIR OUTPUT_DIR [--factor N | --fps R] [--model NAME …] [--ray [ADDRESS] --workers N]

Each video is written to the same relative path under OUTPUT_DIR. One model instance serves the
whole folder (with --ray, one per worker, each video split across them). Videos whose output
already exists are skipped, so a batch that was interrupted continues where it stopped (--overwrite
redoes them); a video that fails is reported and the batch goes on.

Exit status: 0 when every video was written whole; 1 when frames were lost in one; 2 when one failed
(or for bad options); 130 when interrupted.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path

from vfi.errors import VfiError
from vfi.runtime.cli import (
    EXIT_INTERRUPTED, EXIT_LOST, add_video_arguments, check_scaleout_arguments, interpolator_options,
    process_video_args, process_video_ray,
)

# What the batch takes for a video, by file name; anything else in the folder is left alone.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".ts", ".mts", ".m2ts",
                            ".mpg", ".mpeg", ".nut", ".y4m", ".wmv", ".flv"})
EXIT_FAILED = 2


def add_arguments(parser) -> None:
    parser.add_argument("input_dir", type=Path, metavar="INPUT_DIR", help="the folder of videos (searched recursively)")
    parser.add_argument("output_dir", type=Path, metavar="OUTPUT_DIR", help="where the interpolated videos go (created)")
    parser.add_argument("--overwrite", action="store_true", help="redo videos whose output exists (default: skip them)")
    add_video_arguments(parser)


def videos(input_dir: Path, output_dir: Path) -> list[Path]:
    """The videos under `input_dir` by suffix, sorted, outside `output_dir`."""
    if not input_dir.is_dir():
        raise VfiError(f"{input_dir}: not a folder")
    if output_dir.resolve() == input_dir.resolve():
        raise VfiError(f"{output_dir}: is the input folder; write to another folder")
    output = output_dir.resolve()
    return sorted(
        path for path in input_dir.rglob("*")
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file() and output not in path.resolve().parents
    )


def run(args) -> int:
    check_scaleout_arguments(args)
    found = videos(args.input_dir, args.output_dir)
    if not found:
        raise VfiError(f"{args.input_dir}: no videos (files ending in {', '.join(sorted(VIDEO_SUFFIXES))})")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        with ExitStack() as stack:
            process = _processor(args, stack)
            for input in found:
                output = args.output_dir / input.relative_to(args.input_dir)
                results.append(_one(process, input, output, args.overwrite))
                print(_line(results[-1]), file=sys.stderr)
    except KeyboardInterrupt:
        print(f"\nvfi batch: interrupted after {len(results)} of {len(found)} videos", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(results, indent=2))
    statuses = [r["status"] for r in results]
    print(f"vfi batch: {len(found)} videos: {statuses.count('done')} done, {statuses.count('lost frames')} with lost "
          f"frames, {statuses.count('failed')} failed, {statuses.count('skipped')} skipped (output exists)", file=sys.stderr)
    return EXIT_FAILED if "failed" in statuses else EXIT_LOST if "lost frames" in statuses else 0


def _processor(args, stack: ExitStack):
    """process(input, output) -> VideoSummary: the model (or the Ray workers) loaded once."""
    if args.ray is not None:
        from vfi.runtime.scaleout.cluster import RayRunner

        runner = stack.enter_context(RayRunner(interpolator_options(args), address=args.ray or None,
                                               workers=args.workers, progress=sys.stderr.isatty()))
        return lambda input, output: process_video_ray(runner, str(input), str(output), args)
    from vfi.runtime.interpolator import Interpolator

    interpolator = stack.enter_context(Interpolator(**interpolator_options(args)))
    return lambda input, output: process_video_args(interpolator, str(input), str(output), args)


def _one(process, input: Path, output: Path, overwrite: bool) -> dict:
    if output.exists() and not overwrite:
        return {"input": str(input), "output": str(output), "status": "skipped"}
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = process(input, output)
    except VfiError as exc:
        return {"input": str(input), "output": str(output), "status": "failed", "error": str(exc)}
    return {"input": str(input), "output": str(output), "status": "lost frames" if summary.lost else "done",
            "summary": summary.to_dict()}


def _line(result: dict) -> str:
    if result["status"] == "failed":
        return f"failed: {result['error']}"
    if result["status"] == "skipped":
        return f"skipped: {result['output']} exists (--overwrite redoes it)"
    summary = result["summary"]
    return (f"{result['status']}: {result['input']} → {result['output']}: {summary['written']} frames in "
            f"{summary['elapsed_s']:.1f} s" + (f", {summary['lost']} lost" if summary["lost"] else ""))
