"""`vfi bench minterpolate`: `vfi interpolate` against FFmpeg's `minterpolate` filter on the same
video, in one run: the time each needs to turn the file into one at `factor` × its frame rate.

Both run the whole job, file to file: decode, interpolate, encode with the same encoder settings
(vfi's defaults: libx264, CRF 18, preset veryfast), mux. The model runs through the runtime's
`process_video` with the options given, by default those `vfi interpolate` chooses by itself
(vfi.runtime.choice); minterpolate runs through PyAV's filter graph (vfi.bench.ffmpeg_minterpolate).
Neither run's start-up is timed: the model's export and session are made, and warmed on one pair,
before the first timed run. The runs alternate (model, minterpolate, model, …) so that load from
other processes on a shared machine affects both alike; the medians are compared. Speed ratio =
minterpolate seconds / model seconds (≥ 1: the model is at least as fast).

Input: `--input`, or a generated clip (vfi.frames.synthetic.write_bench_clip: 640×360, 81 frames
at 25 fps, the size and length of ../shared/data/videos/car-turn.mp4); `--size WxH` scales it first (Lanczos,
H.264 CRF 16) to measure at another resolution.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

def add_parser(subparsers) -> None:
    from vfi.runtime.choice import MAX_STREAMS

    parser = subparsers.add_parser("minterpolate", help="`vfi interpolate` against FFmpeg minterpolate, file to file")
    parser.add_argument("--input", type=Path, help="video (default: a generated 640x360 clip of 81 frames)")
    parser.add_argument("--size", metavar="WxH", help="scale the input to this size first, e.g. 1280x720")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="registered model (default classic)")
    source.add_argument("--onnx", type=Path, help="an ONNX file (ort backend)")
    parser.add_argument("--backend", choices=["ort", "torch"], help="default: as `vfi interpolate` chooses")
    parser.add_argument("--threads", type=int, help="CPU threads per inference (default: as `vfi interpolate` chooses)")
    parser.add_argument("--streams", type=int, help=f"ort: concurrent inferences (default: one per core, ≤ {MAX_STREAMS})")
    parser.add_argument("--batch-size", type=int, help="frame pairs per inference (default: as `vfi interpolate`)")
    parser.add_argument("--factor", type=int, default=2, help="output rate = factor × input rate (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, alternating (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    from vfi.errors import VfiError
    from vfi.bench.measure import environment
    from vfi.runtime.interpolator import Interpolator
    from vfi.frames.synthetic import write_bench_clip

    if args.factor < 2:
        raise VfiError(f"--factor must be at least 2, got {args.factor}")
    with tempfile.TemporaryDirectory(prefix="vfi-bench-") as scratch:
        scratch = Path(scratch)
        source = args.input if args.input is not None else write_bench_clip(scratch / "generated.mp4")
        if args.size:
            source = scaled_copy(source, even_size(args.size), scratch / "scaled.mp4")
        first_pair, size = first_frames(source)
        started = time.perf_counter()
        interpolator = Interpolator(
            args.model, args.backend, onnx=args.onnx, threads=args.threads, streams=args.streams, batch_size=args.batch_size,
        )
        setup_seconds = time.perf_counter() - started
        with interpolator:
            interpolator.interpolate_float(*first_pair, 0.5)  # warm-up: allocations, lazy initialisation
            model_runs, minterpolate_runs = [], []
            for _ in range(args.repeats):
                seconds, summary = time_model(interpolator, source, scratch / "model.mp4", args.factor)
                model_runs.append(seconds)
                minterpolate_runs.append(time_minterpolate(source, scratch / "minterpolate.mp4", args.factor))
    model_seconds = statistics.median(model_runs)
    minterpolate_seconds = statistics.median(minterpolate_runs)
    results = {
        "environment": environment(),
        "input": str(args.input) if args.input is not None else "generated (vfi.frames.synthetic.write_bench_clip)",
        "size": f"{size[0]}x{size[1]}",
        "input_frames": summary.decoded,
        "factor": args.factor,
        "output_frames": summary.written,
        "interpolated_frames": summary.interpolated,
        "model": interpolator.describe(),
        "path": interpolator.path,
        "model_setup_seconds": setup_seconds,
        "model_runs_seconds": model_runs,
        "minterpolate_runs_seconds": minterpolate_runs,
        "model_seconds": model_seconds,
        "minterpolate_seconds": minterpolate_seconds,
        "speed_ratio": minterpolate_seconds / model_seconds,
    }
    print(format_results(results))
    if args.json:
        from vfi.bench.eval import write_json

        write_json(results, args.json)
        print(f"wrote {args.json}")
    return 0


def even_size(text: str) -> tuple[int, int]:
    from vfi.errors import VfiError
    from vfi.runtime.video import parse_size

    width, height = parse_size(text)
    if width % 2 or height % 2:
        raise VfiError(f"--size: 4:2:0 video needs an even width and height, got {text}")
    return width, height


def _decode_rgb(path: Path, size: tuple[int, int] | None = None):
    """The frames of `path` as HxWx3 uint8 RGB (Lanczos-scaled to `size`), and its frame rate."""
    import av

    from vfi.errors import VfiError

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate or stream.guessed_rate)
            frames = [
                frame.reformat(*(size or (frame.width, frame.height)), format="rgb24", interpolation="LANCZOS").to_ndarray()
                for frame in container.decode(stream)
            ]
    except (av.FFmpegError, IndexError) as exc:
        raise VfiError(f"{path}: not a readable video ({exc})") from exc
    if len(frames) < 2:
        raise VfiError(f"{path}: {len(frames)} frame(s); the benchmark needs at least 2")
    return frames, rate


def scaled_copy(source: Path, size: tuple[int, int], path: Path) -> Path:
    from vfi.frames.synthetic import write_mp4

    frames, rate = _decode_rgb(source, size)
    return write_mp4(frames, path, rate)


def first_frames(path: Path):
    """The first two frames of `path` as float32 [3, H, W] in [0, 1], and the size (W, H)."""
    frames, _ = _decode_rgb(path)
    pictures = [frame.transpose(2, 0, 1).astype("float32") / 255 for frame in frames[:2]]
    return pictures, (pictures[0].shape[2], pictures[0].shape[1])


def time_model(interpolator, source: Path, output: Path, factor: int):
    from vfi.runtime.video import process_video

    started = time.perf_counter()
    summary = process_video(interpolator, str(source), str(output), factor=factor)
    return time.perf_counter() - started, summary


def time_minterpolate(source: Path, output: Path, factor: int) -> float:
    from vfi.bench.ffmpeg_minterpolate import interpolate_file

    started = time.perf_counter()
    interpolate_file(source, output, factor)
    return time.perf_counter() - started


def format_results(results: dict) -> str:
    env = results["environment"]
    n = results["output_frames"]
    return "\n".join([
        f"{env['date']}  {env['cpu']} ({env['cores']} cores)  torch {env['torch']}  onnxruntime {env['onnxruntime']}  "
        f"vfi {env['vfi']} ({env['commit']})",
        f"{results['input']}: {results['input_frames']} frames {results['size']}, ×{results['factor']}: {n} frames "
        "written, file to file (decode, interpolate, encode libx264)",
        f"  {results['model']:<28} {results['model_seconds']:7.2f} s  {n / results['model_seconds']:6.2f} frames/s"
        f"  (runs: {', '.join(f'{s:.2f}' for s in results['model_runs_seconds'])} s)",
        f"    path: {results['path']}",
        f"  {'FFmpeg minterpolate':<28} {results['minterpolate_seconds']:7.2f} s  {n / results['minterpolate_seconds']:6.2f} "
        f"frames/s  (runs: {', '.join(f'{s:.2f}' for s in results['minterpolate_runs_seconds'])} s)",
        f"  speed ratio (minterpolate time / model time): {results['speed_ratio']:.2f}",
    ])
