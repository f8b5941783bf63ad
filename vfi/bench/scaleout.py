"""`vfi bench ray`: throughput of one video split across 1, 2, … Ray workers, beside the
single-process run (`vfi interpolate` without --ray), with the same model, in one run.

Each configuration runs the whole job, file to file (decode, interpolate, encode libx264). A pool's
start-up (Ray actors, model load, ONNX export on a cold cache) is not timed, nor is the Ray
cluster's; each repeat starts the pools afresh, one at a time (on a small machine two pools do not
fit side by side), and the configurations alternate so that load from other processes affects them
alike. Medians are compared: speed-up = single-process seconds / configuration seconds.

Input: `--input`, or the benchmarks' generated clip (640×360, 81 frames at 25 fps).
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path

SINGLE = "single process"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("ray", help="one video split across 1, 2, … Ray workers, against one process")
    parser.add_argument("--input", type=Path, help="video (default: a generated 640x360 clip of 81 frames)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="registered model (default classic)")
    source.add_argument("--onnx", type=Path, help="an ONNX file (ort backend)")
    parser.add_argument("--backend", choices=["ort", "torch"], help="default: as `vfi interpolate` chooses")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, comma-separated (default 1,2)")
    parser.add_argument("--ray", metavar="ADDRESS", help="a Ray cluster to join (default: a local one)")
    parser.add_argument("--factor", type=int, default=2, help="output rate = factor × input rate (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each configuration (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    from vfi.bench.measure import environment
    from vfi.errors import VfiError
    from vfi.frames.synthetic import write_bench_clip
    from vfi.runtime.scaleout.cluster import import_ray

    try:
        counts = [int(n) for n in args.workers.split(",")]
    except ValueError:
        raise VfiError(f"--workers: expected worker counts such as 1,2, got {args.workers!r}") from None
    if any(n < 1 for n in counts):
        raise VfiError(f"--workers: every count must be at least 1, got {args.workers}")
    options = {"model": args.model, "onnx": args.onnx, "backend": args.backend}
    ray = import_ray()
    ray.init(address=args.ray, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    runs: dict[str, list[float]] = {SINGLE: [], **{_label(n): [] for n in counts}}
    facts = {}
    try:
        with tempfile.TemporaryDirectory(prefix="vfi-bench-") as scratch:
            scratch = Path(scratch)
            source = args.input if args.input is not None else write_bench_clip(scratch / "generated.mp4")
            for _ in range(args.repeats):
                runs[SINGLE].append(_time_single(options, source, scratch / "single.mp4", args.factor, facts))
                for n in counts:
                    runs[_label(n)].append(_time_pool(options, n, source, scratch / f"ray{n}.mp4", args.factor, facts))
    finally:
        ray.shutdown()
    medians = {label: statistics.median(seconds) for label, seconds in runs.items()}
    results = {
        "environment": {**environment(), "ray": ray.__version__, "ray_cpus": facts.get("cpus")},
        "input": str(args.input) if args.input is not None else "generated (vfi.frames.synthetic.write_bench_clip)",
        "factor": args.factor,
        "output_frames": facts["written"],
        "model": facts["model"],
        "paths": facts["paths"],
        "runs_seconds": runs,
        "median_seconds": medians,
        "output_fps": {label: facts["written"] / seconds for label, seconds in medians.items()},
        "speedup_over_single_process": {label: medians[SINGLE] / seconds for label, seconds in medians.items()},
    }
    print(format_results(results))
    if args.json:
        from vfi.bench.eval import write_json

        write_json(results, args.json)
        print(f"wrote {args.json}")
    return 0


def _label(workers: int) -> str:
    return f"ray, {workers} worker{'s' if workers > 1 else ''}"


def _time_single(options: dict, source: Path, output: Path, factor: int, facts: dict) -> float:
    from vfi.runtime.interpolator import Interpolator
    from vfi.runtime.video import process_video

    with Interpolator(**options) as interpolator:
        started = time.perf_counter()
        summary = process_video(interpolator, str(source), str(output), factor=factor)
        seconds = time.perf_counter() - started
    facts.update(written=summary.written, model=interpolator.describe())
    facts.setdefault("paths", {})[SINGLE] = interpolator.path
    return seconds


def _time_pool(options: dict, workers: int, source: Path, output: Path, factor: int, facts: dict) -> float:
    from vfi.errors import VfiError
    from vfi.runtime.scaleout.cluster import RayRunner
    from vfi.runtime.scaleout.driver import process_video_split

    with RayRunner(options, workers=workers) as runner:
        started = time.perf_counter()
        summary = process_video_split(runner, source, output, factor=factor)
        seconds = time.perf_counter() - started
        facts["cpus"] = int(runner.ray.cluster_resources().get("CPU", 0))
    if summary.written != facts["written"]:
        raise VfiError(f"{_label(workers)} wrote {summary.written} frames, the single process {facts['written']}")
    facts["paths"][_label(workers)] = runner.path
    return seconds


def format_results(results: dict) -> str:
    env = results["environment"]
    lines = [
        f"{env['date']}  {env['cpu']} ({env['cores']} cores, Ray {env['ray']} with {env['ray_cpus']} CPUs)  "
        f"vfi {env['vfi']} ({env['commit']})",
        f"{results['input']}, ×{results['factor']}: {results['output_frames']} frames written, file to file, "
        f"with {results['model']}",
    ]
    for label, seconds in results["median_seconds"].items():
        runs = ", ".join(f"{s:.2f}" for s in results["runs_seconds"][label])
        lines.append(f"  {label:<18} {seconds:7.2f} s  {results['output_fps'][label]:6.2f} frames/s  "
                     f"speed-up {results['speedup_over_single_process'][label]:.2f}  (runs: {runs} s)")
        lines.append(f"    path: {results['paths'][label]}")
    return "\n".join(lines)
