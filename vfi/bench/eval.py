"""`vfi eval`: interpolation quality against ground truth on triplet folders.

    vfi eval --model classic --data ../shared/data/middlebury --baseline blend --baseline minterpolate
    vfi eval --model sepconv_net --weights network-l1.pytorch --data DIR --json results.json
    vfi eval --model classic --onnx classic.onnx --data DIR
    vfi eval --model classic --video clip.mp4 --size 320x180 --baseline minterpolate

A triplet is a folder holding two frames and the ground-truth frame halfway between them, in one
of the layouts of vfi.frames.triplets (PNG, or JPEG with the same names); DATA may be a triplet
itself or hold triplets in folders at any depth. With --video (a video file, or a folder of
numbered frames) the triplets come from the clip itself: frames 2k and 2k+2 are the inputs and frame 2k+1 the truth, as
if the clip had been shot at half its rate (real footage with its real motion, camera and all;
--size scales the frames first, e.g. to the low resolutions of UCF101). Every method interpolates t = 0.5; its output is clamped and
rounded to 8-bit RGB as the runtime writes frames and compared with the ground truth over the
full frame: PSNR (peak 255) and SSIM (`vfi.parity.metrics.ssim_uint8`, scikit-image's defaults,
the convention of published tables).

Methods: the model (`--model` in PyTorch, with `--weights`; or its exported `--onnx` file in ONNX
Runtime) and the baselines (`--baseline`, repeatable): `blend` (the average of the two frames),
`repeat` (the first frame), `minterpolate` (FFmpeg's motion-compensated interpolation,
`vfi.bench.ffmpeg_minterpolate`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.fileio import write_atomically
from vfi.frames.images import read_uint8
from vfi.frames.triplets import SUFFIXES, describe_layouts, find_triplets

BASELINES = ("blend", "repeat", "minterpolate")
MIDPOINT = 0.5


class EvalError(VfiError):
    pass


def add_arguments(parser) -> None:
    parser.add_argument("--model", help="a registered model (`vfi models`)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=Path, help="checkpoint or .safetensors for --model (PyTorch)")
    weights.add_argument("--onnx", type=Path, help="an ONNX file exported from --model, run in ONNX Runtime (CPU)")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path, help="a triplet folder, or a folder holding triplet folders")
    data.add_argument("--video", type=Path,
                      help="a video, or a folder of numbered frames: every odd frame is the truth between its neighbours")
    parser.add_argument("--size", metavar="WxH", help="--video: scale the frames to this size first (Lanczos), e.g. 320x180")
    parser.add_argument("--baseline", action="append", choices=BASELINES, default=[],
                        help="also evaluate this baseline (repeatable)")
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch / ONNX Runtime (default: theirs)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    if args.model is None and not args.baseline:
        raise EvalError("nothing to evaluate: give --model NAME and/or --baseline")
    if args.model is None and (args.weights or args.onnx):
        raise EvalError("--weights and --onnx go with --model")
    if args.size and args.video is None:
        raise EvalError("--size goes with --video")
    if args.video is not None:
        from vfi.runtime.video import parse_size

        triplets = video_triplets(args.video, parse_size(args.size) if args.size else None)
    else:
        triplets = [(name, _reader(paths)) for name, paths in triplet_files(args.data)]
    methods = [(name, baseline_method(name)) for name in dict.fromkeys(args.baseline)]
    if args.model is not None:
        methods.append(model_method(args.model, args.weights, args.onnx, args.threads))
    source = args.video if args.video is not None else args.data
    results = evaluate(triplets, methods, f"{source}{f' at {args.size}' if args.size else ''}")
    print(format_table(results))
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}")
    return 0


def triplet_files(data: Path) -> list[tuple[str, tuple[Path, Path, Path]]]:
    found = find_triplets(data)
    if not found:
        raise EvalError(f"{data}: no triplet folders found (expected one of these sets of frames: {describe_layouts()})")
    return found


def _reader(paths: tuple[Path, Path, Path]):
    """A function reading the triplet `paths` as HxWx3 uint8 arrays of one size."""

    def read():
        frames = [read_uint8(p) for p in paths]
        if not frames[0].shape == frames[1].shape == frames[2].shape:
            sizes = ", ".join(f"{p.name} {f.shape[1]}x{f.shape[0]}" for p, f in zip(paths, frames))
            raise EvalError(f"{paths[0].parent}: the frames differ in size ({sizes})")
        return frames

    return read


def video_triplets(path: Path, size: tuple[int, int] | None = None) -> list:
    """(name, reader) of the triplets (frame 2k, frame 2k+2, truth frame 2k+1) of a video or of a
    folder of numbered frames (sorted by name): the clip at half its rate, interpolated back to full
    rate. Frames are scaled to `size` (W, H) first when given."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        frames = [_scaled(read_uint8(p), size) for p in files]
        sizes = {f.shape for f in frames}
        if len(sizes) > 1:
            raise EvalError(f"{path}: the frames differ in size ({', '.join(f'{s[1]}x{s[0]}' for s in sorted(sizes))})")
    else:
        frames = _decode_video(path, size)
    if len(frames) < 3:
        raise EvalError(f"{path}: {len(frames)} frame(s); a triplet needs 3")
    return [
        (f"{path.stem}/{k + 1:05d}", lambda k=k: (frames[k], frames[k + 2], frames[k + 1]))
        for k in range(0, len(frames) - 2, 2)
    ]


def _scaled(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (frame.shape[1], frame.shape[0]) == size:
        return frame
    import av

    picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
    return picture.reformat(*size, format="rgb24", interpolation="LANCZOS").to_ndarray()


def _decode_video(path: Path, size: tuple[int, int] | None) -> list[np.ndarray]:
    import av

    if not path.is_file():
        raise EvalError(f"{path}: no such file or folder")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return [
                frame.reformat(*(size or (frame.width, frame.height)), format="rgb24", interpolation="LANCZOS").to_ndarray()
                for frame in container.decode(stream)
            ]
    except (av.FFmpegError, IndexError) as exc:
        raise EvalError(f"{path}: not a readable video ({exc})") from exc


def baseline_method(name: str):
    if name == "blend":
        return lambda frame0, frame1: np.rint((frame0.astype(np.float32) + frame1) / 2).astype(np.uint8)
    if name == "repeat":
        return lambda frame0, frame1: frame0.copy()
    from vfi.bench.ffmpeg_minterpolate import midpoint

    return midpoint


def model_method(model: str, weights: Path | None, onnx: Path | None, threads: int | None):
    """(label, function of two uint8 frames) for the model, through the runtime's Interpolator."""
    from vfi.models import get_card
    from vfi.runtime.interpolator import Interpolator

    card = get_card(model)
    if onnx is not None:
        interpolator = Interpolator(onnx=onnx, threads=threads)
        exported = interpolator.backend.model_name
        if exported != card.name:
            raise EvalError(f"{onnx}: an export of {exported!r}, not of --model {card.name!r}")
        label = f"{card.name} (ONNX Runtime)"
    else:
        interpolator = Interpolator(card.name, weights=weights, threads=threads)
        label = card.name if weights is None else f"{card.name} ({Path(weights).name})"
    return label, lambda frame0, frame1: interpolator.interpolate(frame0, frame1, MIDPOINT)


def evaluate(triplets, methods, data: str) -> dict:
    """Scores of every method on every triplet, (name, reader of (frame0, frame1, truth))."""
    from vfi.bench.measure import environment
    from vfi.parity.metrics import psnr, ssim_uint8

    scores = {label: {} for label, _ in methods}
    for name, read in triplets:
        frame0, frame1, truth = read()
        for label, method in methods:
            output = method(frame0, frame1)
            scores[label][name] = {"psnr": psnr(output, truth, 255.0), "ssim": ssim_uint8(output, truth)}
    return {
        "environment": environment(),
        "data": str(data),
        "methods": {
            label: {
                "mean_psnr": float(np.mean([s["psnr"] for s in per.values()])),
                "mean_ssim": float(np.mean([s["ssim"] for s in per.values()])),
                "sequences": per,
            }
            for label, per in scores.items()
        },
    }


def format_table(results: dict) -> str:
    methods = results["methods"]
    names = list(next(iter(methods.values()))["sequences"])
    width = max(len("mean"), *(len(n) for n in names))
    header = f"{'sequence':<{width}} " + " ".join(f"| {label:^22}" for label in methods)
    lines = [f"{results['data']}: {len(names)} triplets, PSNR dB / SSIM at t = 0.5", header,
             f"{'':<{width}} " + " ".join(f"| {'PSNR':>10} {'SSIM':>11}" for _ in methods)]
    rule = "-" * len(lines[-1])
    lines.append(rule)
    for name in names:
        cells = " ".join(f"| {m['sequences'][name]['psnr']:>10.2f} {m['sequences'][name]['ssim']:>11.4f}" for m in methods.values())
        lines.append(f"{name:<{width}} {cells}")
    lines.append(rule)
    cells = " ".join(f"| {m['mean_psnr']:>10.2f} {m['mean_ssim']:>11.4f}" for m in methods.values())
    lines.append(f"{'mean':<{width}} {cells}")
    return "\n".join(lines)


def write_json(results: dict, path: Path) -> None:
    """Through a temporary file in the same folder, renamed on success."""
    path = Path(path)
    if not path.parent.is_dir():
        raise EvalError(f"{path}: the folder {path.parent} does not exist")
    write_atomically(path, json.dumps(results, indent=2) + "\n")
