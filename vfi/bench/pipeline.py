"""`vfi bench pipeline`: frames per second of the whole `vfi interpolate` pipeline (decode, scene
detection, scheduling, inference, encode, mux) against inference alone on the same frames, with
the same model, backend, batches and requests, in one run.

Inference alone: every input frame is decoded into memory first, then the scheduler runs over
them exactly as in the pipeline, without threads, encoding or I/O. Overhead = pipeline time /
inference time − 1; the target is ≤ 10 %. Both wall-clock and CPU time (all threads of the
process) are reported: on a shared machine the CPU-time ratio is the stable measure of the work
the pipeline adds, the wall-clock ratio what a user waits.
"""

from __future__ import annotations

import json
import queue
import statistics
import tempfile
import time
from pathlib import Path



def add_parser(subparsers) -> None:
    from vfi.runtime.interpolator import DEFAULT_BATCH_SIZE, DEFAULT_MODEL
    from vfi.runtime.video import CODECS, DEFAULT_CODEC

    parser = subparsers.add_parser("pipeline", help="`vfi interpolate` frames per second vs inference alone")
    parser.add_argument("--input", type=Path, help="video (default: a generated 640x360 clip of 81 frames)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help=f"registered model (default {DEFAULT_MODEL})")
    source.add_argument("--onnx", type=Path, help="ONNX file (ort backend)")
    source.add_argument("--engine", type=Path, help="TensorRT engine (trt backend)")
    parser.add_argument("--backend", choices=["torch", "ort", "trt"])
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: as `vfi interpolate` chooses")
    parser.add_argument("--threads", type=int, help="CPU threads for torch / ONNX Runtime")
    parser.add_argument("--batch-size", type=int, help=f"default {DEFAULT_BATCH_SIZE}, or the number of streams if more")
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--codec", choices=list(CODECS), default=DEFAULT_CODEC)
    parser.add_argument("--repeats", type=int, default=3, help="alternating timed runs of each (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    from vfi.bench.measure import environment
    from vfi.runtime.interpolator import Interpolator
    from vfi.frames.synthetic import write_bench_clip

    interpolator = Interpolator(
        args.model, args.backend, onnx=args.onnx, engine=args.engine, device=args.device, threads=args.threads,
        batch_size=args.batch_size,
    )
    with tempfile.TemporaryDirectory(prefix="vfi-bench-") as scratch:
        source = args.input if args.input is not None else write_bench_clip(Path(scratch) / "generated.mp4")
        frames, rate = decode_all(source)
        inference, pipeline = [], []
        time_inference(interpolator, frames[:2], rate, args.factor)  # warm-up: allocations, lazy initialisation
        for _ in range(args.repeats):
            seconds, outputs = time_inference(interpolator, frames, rate, args.factor)
            inference.append(seconds)
            pipeline.append(time_pipeline(interpolator, source, args.factor, args.codec, outputs))
    wall = {name: statistics.median(s["wall"] for s in runs) for name, runs in (("inference", inference), ("pipeline", pipeline))}
    cpu = {name: statistics.median(s["cpu"] for s in runs) for name, runs in (("inference", inference), ("pipeline", pipeline))}
    results = {
        "environment": environment(),
        "input": str(args.input) if args.input is not None else "generated (vfi.frames.synthetic.write_bench_clip)",
        "model": interpolator.describe(),
        "path": interpolator.path,
        "batch_size": interpolator.batch_size,
        "factor": args.factor,
        "codec": args.codec,
        "input_frames": len(frames),
        "output_frames": outputs,
        "inference_runs": inference,
        "pipeline_runs": pipeline,
        "inference_fps": outputs / wall["inference"],
        "pipeline_fps": outputs / wall["pipeline"],
        "overhead_wall": wall["pipeline"] / wall["inference"] - 1,
        "overhead_cpu": cpu["pipeline"] / cpu["inference"] - 1,
    }
    print(format_results(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def decode_all(path: Path):
    """Every frame of `path` as the pipeline decodes it, and the input rate."""
    from vfi.runtime.video import DEFAULT_MAX_PIXELS, END, Decoded, Pipeline, Source

    source = Source(str(path), DEFAULT_MAX_PIXELS)
    items: queue.Queue = queue.Queue()
    try:
        source.decode(items, Pipeline())
    finally:
        source.container.close()
    frames = []
    while (item := items.get()) is not END:
        if isinstance(item, Decoded):
            frames.append(item)
    return frames, source.rate


def _clocks() -> dict:
    return {"wall": time.perf_counter(), "cpu": time.process_time()}


def _since(start: dict) -> dict:
    return {name: value - start[name] for name, value in _clocks().items()}


def time_inference(interpolator, frames, rate, factor: int) -> tuple[dict, int]:
    """Wall and CPU seconds to schedule and compute every output frame from frames in memory;
    the number of output frames."""
    from vfi.runtime.video import Scheduler, VideoSummary

    summary = VideoSummary(input="memory", output="none", model=interpolator.describe())
    scheduler = Scheduler(interpolator, factor * rate, rate, summary)
    count = 0
    start = _clocks()
    for frame in frames:
        scheduler.add(frame)
        count += sum(1 for _ in scheduler.ready())
    scheduler.finish()
    count += sum(1 for _ in scheduler.ready())
    return _since(start), count


def time_pipeline(interpolator, path: Path, factor: int, codec: str, expected: int) -> dict:
    from vfi.runtime.video import EncoderOptions, process_video

    with tempfile.TemporaryDirectory() as folder:
        start = _clocks()
        summary = process_video(interpolator, path, Path(folder) / f"out{path.suffix}", factor=factor,
                                encoder=EncoderOptions(codec=codec))
        seconds = _since(start)
    if summary.written != expected or summary.lost:
        raise RuntimeError(f"the pipeline wrote {summary.written} frames, inference alone made {expected}")
    return seconds


def format_results(results: dict) -> str:
    env = results["environment"]
    return "\n".join([
        f"{env['date']}  {env['cpu']} ({env['cores']} cores)  torch {env['torch']}  onnxruntime {env['onnxruntime']}  "
        f"vfi {env['vfi']} ({env['commit']})",
        f"{results['input']}: {results['input_frames']} frames → {results['output_frames']} (factor {results['factor']}, "
        f"{results['codec']}); {results['model']}, batch {results['batch_size']}",
        f"  inference alone: {results['inference_fps']:.2f} fps  (runs, wall / CPU: {_runs(results['inference_runs'])})",
        f"  whole pipeline:  {results['pipeline_fps']:.2f} fps  (runs, wall / CPU: {_runs(results['pipeline_runs'])})",
        f"  pipeline overhead: {100 * results['overhead_wall']:+.1f} % wall-clock, {100 * results['overhead_cpu']:+.1f} % "
        "CPU time (target ≤ 10 %)",
    ])


def _runs(runs: list[dict]) -> str:
    return ", ".join(f"{run['wall']:.2f} / {run['cpu']:.2f} s" for run in runs)
