"""`vfi bench minterpolate`: a model against FFmpeg's `minterpolate` filter on the same video, in
one run: the time each needs to raise the frame rate by the same factor.

Both start from the decoded frames in memory and stop at the output frames in memory, so neither
decoding nor encoding is timed: minterpolate gets the decoder's frames (yuv420p) through PyAV's
filter graph (vfi.runtime.minterpolate); the model gets every pair of consecutive frames as RGB
float arrays (converted before timing) through the runtime's Interpolator, by default the ONNX
file exported from the model in ONNX Runtime on the CPU. The runs alternate (model, minterpolate,
model, …) so that load from other processes on a shared machine affects both alike; the
medians are compared. Speed ratio = minterpolate seconds / model seconds (≥ 1: the model is at
least as fast).
"""

from __future__ import annotations

import statistics
import time
from fractions import Fraction
from pathlib import Path

from vfi.runtime.bench_pipeline import DEFAULT_INPUT


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("minterpolate", help="a model against FFmpeg minterpolate on the same video")
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help=f"video (default {DEFAULT_INPUT})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default="classic", help="registered model, exported to ONNX first (default classic)")
    source.add_argument("--onnx", type=Path, help="an ONNX file instead of exporting --model")
    parser.add_argument("--backend", choices=["ort", "torch"], default="ort", help="for --model (default ort)")
    parser.add_argument("--threads", type=int, help="CPU threads for ONNX Runtime / torch (default: theirs)")
    parser.add_argument("--streams", type=int, default=1, help="ort: concurrent inferences per batch (default 1)")
    parser.add_argument("--batch-size", type=int, default=1, help="frame pairs per inference (default 1)")
    parser.add_argument("--factor", type=int, default=2, help="output rate = factor × input rate (default 2)")
    parser.add_argument("--frames", type=int, help="use only the first N frames of the video")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, alternating (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    from vfi.errors import VfiError
    from vfi.runtime.bench import environment
    from vfi.runtime.interpolator import Interpolator

    if args.factor < 2:
        raise VfiError(f"--factor must be at least 2, got {args.factor}")
    frames, rate = decode(args.input, args.frames)
    if len(frames) < 2:
        raise VfiError(f"{args.input}: {len(frames)} frame(s); the benchmark needs at least 2")
    pictures = [frame.to_ndarray(format="rgb24").transpose(2, 0, 1).astype("float32") / 255 for frame in frames]
    model = args.model if args.onnx is None else None
    started = time.perf_counter()
    interpolator = Interpolator(
        model, None if args.onnx else args.backend, onnx=args.onnx, threads=args.threads, streams=args.streams,
        batch_size=args.batch_size, scene_threshold=None,
    )
    setup_seconds = time.perf_counter() - started
    with interpolator:
        time_model(interpolator, pictures[:2], args.factor)  # warm-up: allocations, lazy initialisation
        model_runs, minterpolate_runs = [], []
        for _ in range(args.repeats):
            model_runs.append(time_model(interpolator, pictures, args.factor))
            minterpolate_runs.append(time_minterpolate(frames, rate, args.factor))
        described = interpolator.describe()
    model_seconds = statistics.median(model_runs)
    minterpolate_seconds = statistics.median(minterpolate_runs)
    results = {
        "environment": environment(),
        "input": str(args.input),
        "size": f"{frames[0].width}x{frames[0].height}",
        "input_frames": len(frames),
        "factor": args.factor,
        "interpolated_frames": (len(frames) - 1) * (args.factor - 1),
        "model": described,
        "threads": args.threads,
        "streams": args.streams,
        "batch_size": args.batch_size,
        "model_setup_seconds": setup_seconds,
        "model_runs_seconds": model_runs,
        "minterpolate_runs_seconds": minterpolate_runs,
        "model_seconds": model_seconds,
        "minterpolate_seconds": minterpolate_seconds,
        "speed_ratio": minterpolate_seconds / model_seconds,
    }
    print(format_results(results))
    if args.json:
        from vfi.runtime.eval import write_json

        write_json(results, args.json)
        print(f"wrote {args.json}")
    return 0


def decode(path: Path, limit: int | None):
    """The decoded frames of `path`'s first video stream (at most `limit`) and its frame rate."""
    import av

    from vfi.errors import VfiError

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = []
            for frame in container.decode(stream):
                frames.append(frame)
                if limit is not None and len(frames) == limit:
                    break
            rate = Fraction(stream.average_rate or stream.guessed_rate)
    except (av.FFmpegError, IndexError) as exc:
        raise VfiError(f"{path}: not a readable video ({exc})") from exc
    return frames, rate


def time_model(interpolator, pictures: list, factor: int) -> float:
    from vfi.runtime.interpolator import Request

    requests = [
        Request(index, frame0, frame1, Fraction(k, factor))
        for index, (frame0, frame1) in enumerate(zip(pictures, pictures[1:]))
        for k in range(1, factor)
    ]
    started = time.perf_counter()
    interpolator.run(requests)
    return time.perf_counter() - started


def time_minterpolate(frames: list, rate: Fraction, factor: int) -> float:
    from vfi.runtime.minterpolate import interpolate_stream

    started = time.perf_counter()
    interpolate_stream(frames, rate, factor)
    return time.perf_counter() - started


def format_results(results: dict) -> str:
    env = results["environment"]
    n = results["interpolated_frames"]
    return "\n".join([
        f"{env['date']}  {env['cpu']} ({env['cores']} cores)  torch {env['torch']}  onnxruntime {env['onnxruntime']}  "
        f"vfi {env['vfi']} ({env['commit']})",
        f"{results['input']}: {results['input_frames']} frames {results['size']}, ×{results['factor']}: {n} new frames",
        f"  {results['model']:<28} {results['model_seconds']:7.2f} s  {n / results['model_seconds']:6.2f} frames/s"
        f"  (runs: {', '.join(f'{s:.2f}' for s in results['model_runs_seconds'])} s; threads "
        f"{results['threads'] or 'default'}, streams {results['streams']}, batch {results['batch_size']})",
        f"  {'FFmpeg minterpolate':<28} {results['minterpolate_seconds']:7.2f} s  {n / results['minterpolate_seconds']:6.2f} "
        f"frames/s  (runs: {', '.join(f'{s:.2f}' for s in results['minterpolate_runs_seconds'])} s)",
        f"  speed ratio (minterpolate time / model time): {results['speed_ratio']:.2f}",
    ])
