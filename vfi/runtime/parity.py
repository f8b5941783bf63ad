"""`vfi parity`: two runners on the same real frame pairs, compared pair by pair.

Runners are the runtime's backends: a registered model name runs in PyTorch (fp32, the
reference), an `.onnx` file in ONNX Runtime (fp32, fp16 or INT8 variant), an `.engine` file in
TensorRT. Data (`--data`) is a folder of triplets in the Middlebury layout (`frame10.png`,
`frame11.png`, ground truth `frame10i11.png`; the folder itself or its subfolders), or a video or
image-sequence folder, from which `--max-pairs` consecutive pairs spread over its length are
taken. Models that take t are run at t = 0.5. Instead of `--data`, `--load-inputs` reads the feeds of
a Polygraphy input-data file (t from the file); `--save-inputs` and `--save-outputs` write the feeds
and both runners' outputs in Polygraphy's formats (vfi.runtime.parity_polygraphy).

Against the reference, on the float outputs as returned: PSNR and SSIM (vfi.runtime.metrics),
the largest absolute error, and the largest difference in 8-bit levels (LSB) after both outputs
are clamped and rounded as the runtime writes frames; non-finite values of the candidate are
counted (and set to 0 for the other metrics). Against ground truth, where the data has it: PSNR
and SSIM of each runner's 8-bit output, and how much the candidate loses.

Thresholds: no output may hold NaN or Inf. When the reference is fp32 (PyTorch or an fp32 file)
and the candidate's model has a card, every pair must reach the candidate precision's PSNR
(PSNR_THRESHOLDS_DB; INT8 from the card's `int8_psnr_threshold_db`, or `int8_modelopt_psnr_threshold_db`
for a file of `--quantizer modelopt`, each measured with seeded random weights and so applying to
them alone), and an INT8 candidate may
lose at most INT8_TRUTH_DROP_DB of mean PSNR against ground truth where the data has it. Any
failure is printed and the command exits 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.fileio import write_atomically
from vfi.runtime.backends import FRAME_INPUTS, TIME_INPUT

TRIPLET = ("frame10.png", "frame11.png", "frame10i11.png")  # frame0, frame1, ground truth
MIDPOINT = 0.5
# Whole-model PSNR against the fp32 PyTorch reference on [0, 1] output (../shared/OPS.md, "Tolerances").
PSNR_THRESHOLDS_DB = {"fp32": 60.0, "fp16": 45.0}
INT8_TRUTH_DROP_DB = 0.5  # INT8 vs fp32: mean PSNR against ground truth (OPS.md, "Tolerances")


class ParityError(VfiError):
    pass


@dataclass
class Runner:
    """A backend and what the report says about it."""

    label: str  # as given on the command line
    kind: str  # torch, ort or trt
    precision: str
    model: str | None  # the registered model it runs, when known
    weights: str | None  # checkpoint SHA-256 or "none (random weights, seed N)", when known
    backend: object = field(repr=False)
    quantizer: str | None = None  # INT8: the quantizer that made the file (vfi.export.quantize.QUANTIZERS)

    def describe(self) -> dict:
        described = {"label": self.label, "backend": self.kind, "precision": self.precision, "model": self.model, "weights": self.weights}
        if self.quantizer is not None:
            described["quantizer"] = self.quantizer
        return described


def open_runner(spec: str, *, weights=None, seed: int = 0, plugins=None, device: str = "cpu", provider=None, threads=None) -> Runner:
    """The runner for `spec`: a registered model name (PyTorch), an .onnx file (ONNX Runtime) or
    an .engine file (TensorRT)."""
    from vfi.runtime.backends import open_backend

    path = Path(spec)
    if path.suffix == ".onnx":
        from vfi.export.quantize import quantizer_of

        meta = _onnx_metadata(path)
        backend = open_backend("ort", onnx=path, device=device, provider=provider, threads=threads)
        return Runner(spec, "ort", meta.get("vfi.precision", "fp32"), meta.get("vfi.model"), meta.get("vfi.checkpoint_sha256"),
                      backend, quantizer_of(meta))
    if path.suffix in (".engine", ".plan"):
        from vfi.export.engine_sidecar import read_sidecar

        sidecar = read_sidecar(path)
        # One --plugins serves both runners: only an engine built with a plugin library gets it (an
        # engine built without would fail its sidecar check with it).
        backend = open_backend("trt", engine=path, plugins=plugins if sidecar["plugin_sha256"] else None)
        return Runner(spec, "trt", sidecar["precision"], sidecar.get("model"), sidecar.get("checkpoint_sha256"), backend,
                      sidecar.get("quantizer"))
    from vfi.models.weights import random_weights_identity, sha256_of

    backend = open_backend("torch", model=spec, weights=weights, device=device, threads=threads, seed=seed)
    identity = sha256_of(weights) if weights is not None else random_weights_identity(seed)
    return Runner(spec, "torch", "fp32", spec, identity, backend)


def _onnx_metadata(path: Path) -> dict[str, str]:
    import onnx

    from vfi.export.graph import metadata

    if not path.is_file():
        raise ParityError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, … on a damaged file
        raise ParityError(f"{path}: not a readable ONNX file ({exc})") from exc
    return metadata(model)


def check_comparable(reference: Runner, candidate: Runner) -> None:
    """Both runners must hold the same model and weights where they say which."""
    for what in ("model", "weights"):
        ref, cand = getattr(reference, what), getattr(candidate, what)
        if ref is not None and cand is not None and ref != cand:
            raise ParityError(f"the runners hold different {what}: {reference.label} has {ref}, {candidate.label} has {cand}")


# -- data ---------------------------------------------------------------------------------------


@dataclass
class Pair:
    name: str
    frame0: np.ndarray  # float32 [1,3,H,W] in [0, 1]
    frame1: np.ndarray
    truth: np.ndarray | None  # the real middle frame, when the data has one
    t: float | None = MIDPOINT  # the time given to runners that take t; None: a loaded feed without t


def load_pairs(data: str | Path, max_pairs: int = 8) -> list[Pair]:
    """The frame pairs of `data` (see the module docstring)."""
    from vfi.runtime.images import read_rgb

    data = Path(data)
    if data.is_dir():
        folders = [data] if (data / TRIPLET[0]).is_file() else sorted(p for p in data.iterdir() if (p / TRIPLET[0]).is_file())
        if folders:
            pairs = []
            for folder in folders:
                frame0, frame1 = (read_rgb(folder / name).numpy() for name in TRIPLET[:2])
                truth = read_rgb(folder / TRIPLET[2]).numpy() if (folder / TRIPLET[2]).is_file() else None
                if {frame0.shape, frame1.shape, frame0.shape if truth is None else truth.shape} != {frame0.shape}:
                    raise ParityError(f"{folder}: the frames of the triplet differ in size")
                pairs.append(Pair(folder.name, frame0, frame1, truth))
            return pairs
    from vfi.calib.sources import open_source

    source = open_source(data)
    count = sum(1 for _ in source.frames()) - 1  # consecutive pairs
    taken = min(max_pairs, count)
    wanted = {round(i * (count - 1) / max(1, taken - 1)) for i in range(taken)}
    pairs, previous = [], None
    for index, frame in enumerate(source.frames()):
        if previous is not None and index - 1 in wanted:
            pairs.append(Pair(f"{source.frame_name(index - 1)} → {source.frame_name(index)}", previous, frame, None))
        previous = frame
    return pairs


# -- comparison ---------------------------------------------------------------------------------


def compare(reference: np.ndarray, candidate: np.ndarray, truth: np.ndarray | None = None) -> dict:
    """The metrics of one pair's outputs (float32 [1,3,H,W])."""
    from vfi.runtime.metrics import psnr, ssim

    if reference.shape != candidate.shape:
        raise ParityError(f"the outputs differ in shape: reference {list(reference.shape)}, candidate {list(candidate.shape)}")
    nonfinite = int(np.size(candidate) - np.count_nonzero(np.isfinite(candidate)))
    reference_nonfinite = int(np.size(reference) - np.count_nonzero(np.isfinite(reference)))
    reference, candidate = (np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) for x in (reference, candidate))
    ref8, cand8 = to_8bit(reference), to_8bit(candidate)
    result = {
        "psnr_db": psnr(candidate, reference),
        "ssim": ssim(candidate, reference),
        "max_abs_error": float(np.max(np.abs(candidate.astype(np.float64) - reference))),
        "max_error_lsb": int(np.max(np.abs(cand8.astype(np.int16) - ref8))),
        "nonfinite": nonfinite,
        "reference_nonfinite": reference_nonfinite,
    }
    if truth is not None:
        truth8 = to_8bit(truth)
        result["truth"] = {
            "reference_psnr_db": psnr(ref8, truth8, 255.0),
            "candidate_psnr_db": psnr(cand8, truth8, 255.0),
            "reference_ssim": ssim(ref8, truth8, 255.0),
            "candidate_ssim": ssim(cand8, truth8, 255.0),
        }
        result["truth"]["psnr_drop_db"] = result["truth"]["reference_psnr_db"] - result["truth"]["candidate_psnr_db"]
    return result


def to_8bit(frame: np.ndarray) -> np.ndarray:
    """[1,3,H,W] float in [0, 1] to [3,H,W] uint8, clamped and rounded as the runtime writes frames."""
    import torch

    from vfi.runtime.images import to_uint8

    return to_uint8(torch.from_numpy(np.ascontiguousarray(frame, np.float32))).transpose(2, 0, 1)


def summarise(rows: list[dict]) -> dict:
    summary = {
        "pairs": len(rows),
        "psnr_db_min": min(r["psnr_db"] for r in rows),
        "psnr_db_mean": _mean_psnr([r["psnr_db"] for r in rows]),
        "ssim_min": min(r["ssim"] for r in rows),
        "ssim_mean": float(np.mean([r["ssim"] for r in rows])),
        "max_abs_error": max(r["max_abs_error"] for r in rows),
        "max_error_lsb": max(r["max_error_lsb"] for r in rows),
        "nonfinite": sum(r["nonfinite"] for r in rows),
        "reference_nonfinite": sum(r["reference_nonfinite"] for r in rows),
    }
    truths = [r["truth"] for r in rows if "truth" in r]
    if truths:
        summary["truth"] = {
            key: float(np.mean([t[key] for t in truths]))
            for key in ("reference_psnr_db", "candidate_psnr_db", "reference_ssim", "candidate_ssim", "psnr_drop_db")
        }
    return summary


def _mean_psnr(values: list[float]) -> float:
    """The mean of per-pair PSNRs; inf when every pair is identical, identical pairs left out otherwise."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf


def threshold_for(candidate: Runner, reference: Runner) -> tuple[float | None, str]:
    """The candidate's PSNR threshold and where it comes from (None: no threshold applies)."""
    from vfi.models import MODELS
    from vfi.models.weights import is_random_weights

    if reference.precision != "fp32":
        return None, f"no threshold: the reference is {reference.precision}, not fp32"
    card = MODELS.get(candidate.model or reference.model or "")
    if card is None:
        return None, "no threshold: the model has no card"
    if candidate.precision == "int8":
        # ModelOpt quantizes more of the graph than the `ort` quantizer, so it has its own threshold.
        name = "int8_modelopt_psnr_threshold_db" if candidate.quantizer == "modelopt" else "int8_psnr_threshold_db"
        if getattr(card, name) is None:
            return None, f"no threshold: model card {card.name} sets no {name}"
        if not is_random_weights(candidate.weights or reference.weights):
            return None, (
                f"no PSNR threshold: {name} of model card {card.name} was measured with seeded random "
                "weights, not with a checkpoint"
            )
        return getattr(card, name), f"{name} of model card {card.name}"
    return PSNR_THRESHOLDS_DB[candidate.precision], f"{candidate.precision} parity threshold (OPS.md) for {card.name}"


def check_rows(rows: list[dict], threshold: float | None, source: str) -> list[str]:
    """Mark each row "pass" or not; the failures, one line each."""
    problems = []
    for row in rows:
        found = []
        if row["nonfinite"] or row["reference_nonfinite"]:
            found.append(f"NaN/Inf values: {row['nonfinite']} in the candidate, {row['reference_nonfinite']} in the reference")
        if threshold is not None and row["psnr_db"] < threshold:
            found.append(f"PSNR {row['psnr_db']:.2f} dB < {threshold:.2f} dB ({source})")
        row["pass"] = not found
        problems += [f"{row['pair']}: {problem}" for problem in found]
    return problems


def feed(pair: Pair, inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """The arrays the runners are given for `pair`, by input name."""
    arrays = {FRAME_INPUTS[0]: pair.frame0, FRAME_INPUTS[1]: pair.frame1}
    if TIME_INPUT in inputs:
        arrays[TIME_INPUT] = np.full((1,), pair.t, np.float32)
    return arrays


def check_loaded_inputs(path: Path, pairs: list[Pair], inputs: tuple[str, ...]) -> None:
    """Pairs loaded from `path` must feed exactly the runners' inputs (t included or not)."""
    for pair in pairs:
        fed = FRAME_INPUTS + ((TIME_INPUT,) if pair.t is not None else ())
        if fed != inputs:
            raise ParityError(f"{path}: {pair.name} has inputs ({', '.join(fed)}); the runners take ({', '.join(inputs)})")


def run_parity(
    reference: Runner, candidate: Runner, pairs: list[Pair], keep_images: bool = True, keep_outputs: bool = False,
    inputs_file: Path | None = None,
) -> dict:
    """Run both runners on every pair; the report as a JSON-able dict (images under "_images",
    with `keep_outputs` the outputs under "_outputs"). `inputs_file`: the Polygraphy input-data file
    the pairs were loaded from, whose feeds must then match the runners' inputs."""
    from vfi.runtime.parity_html import pair_images

    check_comparable(reference, candidate)
    runners = (reference, candidate)
    rows, images, outputs_by_runner = [], [], ([], [])
    for runner in runners:
        runner.backend.activate()
    try:
        # What a runner takes is known once it is activated (an ONNX file or engine says it then).
        inputs = FRAME_INPUTS + ((TIME_INPUT,) if any(r.backend.arbitrary_t for r in runners) else ())
        if inputs_file is not None:
            check_loaded_inputs(inputs_file, pairs, inputs)
        for pair in pairs:
            arrays = feed(pair, inputs)
            outputs = [r.backend.infer(pair.frame0, pair.frame1, arrays[TIME_INPUT] if r.backend.arbitrary_t else None) for r in runners]
            t_column = {"t": pair.t} if TIME_INPUT in inputs else {}
            rows.append({"pair": pair.name, "height": pair.frame0.shape[2], "width": pair.frame0.shape[3], **t_column, **compare(*outputs, pair.truth)})
            if keep_images:
                images.append(pair_images(*outputs, pair.truth))
            if keep_outputs:
                for kept, output in zip(outputs_by_runner, outputs):
                    kept.append(output)
    finally:
        for runner in runners:
            runner.backend.close()
    threshold, source = threshold_for(candidate, reference)
    summary = summarise(rows)
    failures = check_rows(rows, threshold, source)
    truth_drop = INT8_TRUTH_DROP_DB if candidate.precision == "int8" and reference.precision == "fp32" and "truth" in summary else None
    if truth_drop is not None and summary["truth"]["psnr_drop_db"] > truth_drop:
        failures.append(
            f"overall: the mean PSNR against ground truth drops {summary['truth']['psnr_drop_db']:.3f} dB > {truth_drop:.2f} dB "
            "(INT8 tolerance, OPS.md)"
        )
    return {
        "reference": reference.describe(),
        "candidate": candidate.describe(),
        "inputs": list(inputs),
        "threshold": {"psnr_db": threshold, "source": source, "truth_drop_db": truth_drop},
        "summary": summary,
        "pairs": rows,
        "failures": failures,
        "_images": images,
        "_outputs": dict(zip(("reference", "candidate"), outputs_by_runner)),
    }


# -- command ------------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    from vfi.calib.cli import positive_int

    parser.add_argument("reference", help="registered model name (PyTorch), .onnx file (ONNX Runtime) or .engine file (TensorRT)")
    parser.add_argument("candidate", help="the runner compared with the reference, in the same forms")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path, help="folder of Middlebury-style triplets, or a video or image-sequence folder")
    data.add_argument("--load-inputs", type=Path, metavar="FILE",
                      help="run on the feeds of a Polygraphy input-data JSON (polygraphy run --save-inputs, or vfi parity's), without ground truth")
    parser.add_argument("--max-pairs", type=positive_int, default=8, help="pairs taken from a video or image sequence (default 8)")
    parser.add_argument("--weights", type=Path, help="checkpoint for a PyTorch runner (default: seeded random weights)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a PyTorch runner's random weights (default 0, as `vfi export`)")
    parser.add_argument("--plugins", type=Path, help="TensorRT plugin library for the engines built with one (engines built without are run without it)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="device of PyTorch and ONNX Runtime runners")
    parser.add_argument("--provider", choices=["cpu", "cuda", "tensorrt"], help="ONNX Runtime execution provider")
    parser.add_argument("--threads", type=int, help="CPU threads of PyTorch and ONNX Runtime runners")
    parser.add_argument("--json", type=Path, help="write the report as JSON to this file")
    parser.add_argument("--html", type=Path, help="write the report as a self-contained HTML page to this file")
    parser.add_argument("--save-inputs", type=Path, metavar="FILE",
                        help="write the feeds given to the runners as Polygraphy input data (polygraphy run --load-inputs FILE)")
    parser.add_argument("--save-outputs", type=Path, metavar="FILE",
                        help="write both runners' outputs as Polygraphy RunResults (polygraphy run --load-outputs FILE)")


def run(args) -> int:
    from vfi.runtime import parity_polygraphy
    from vfi.runtime.parity_html import render_html

    # Without Polygraphy its options are refused before the runners run, not after.
    for option, path in (("--load-inputs", args.load_inputs), ("--save-inputs", args.save_inputs), ("--save-outputs", args.save_outputs)):
        if path is not None:
            parity_polygraphy.require_polygraphy(option)
    options = dict(weights=args.weights, seed=args.seed, plugins=args.plugins, device=args.device, provider=args.provider, threads=args.threads)
    reference, candidate = open_runner(args.reference, **options), open_runner(args.candidate, **options)
    pairs = parity_polygraphy.load_inputs(args.load_inputs) if args.load_inputs else load_pairs(args.data, args.max_pairs)
    report = run_parity(reference, candidate, pairs, keep_images=args.html is not None, keep_outputs=args.save_outputs is not None,
                        inputs_file=args.load_inputs)
    print(format_report(report))
    writers = (
        (args.json, lambda path: write_atomically(path, report_json(report))),
        (args.html, lambda path: write_atomically(path, render_html(report))),
        (args.save_inputs, lambda path: parity_polygraphy.save_inputs(path, [feed(pair, report["inputs"]) for pair in pairs])),
        (args.save_outputs, lambda path: parity_polygraphy.save_outputs(path, report)),
    )
    for path, write in writers:
        if path is not None:
            write(path)
            print(f"wrote {path}")
    for problem in report["failures"]:
        print(f"vfi parity: FAIL: {problem}")
    return 1 if report["failures"] else 0


def report_json(report: dict) -> str:
    """The report as strict JSON: an infinite PSNR (identical outputs) is written as "inf"."""

    def strict(value):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, dict):
            return {k: strict(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strict(v) for v in value]
        return value

    # "_images" and "_outputs" hold arrays for the HTML page and --save-outputs.
    return json.dumps(strict({k: v for k, v in report.items() if not k.startswith("_")}), indent=2, allow_nan=False) + "\n"


def format_report(report: dict) -> str:
    ref, cand, summary = report["reference"], report["candidate"], report["summary"]
    lines = [
        f"reference {ref['label']} ({ref['backend']}, {ref['precision']})  vs  candidate {cand['label']} ({cand['backend']}, {cand['precision']})",
        f"{'pair':<24} {'size':>9} {'PSNR dB':>8} {'SSIM':>8} {'max abs':>9} {'LSB':>4} {'NaN/Inf':>7} {'GT ref/cand dB':>15}",
    ]
    for row in report["pairs"]:
        truth = row.get("truth")
        gt = f"{truth['reference_psnr_db']:.2f}/{truth['candidate_psnr_db']:.2f}" if truth else "-"
        lines.append(
            f"{row['pair'][:24]:<24} {row['width']:>4}x{row['height']:<4} {row['psnr_db']:>8.2f} {row['ssim']:>8.5f} "
            f"{row['max_abs_error']:>9.2e} {row['max_error_lsb']:>4} {row['nonfinite']:>7} {gt:>15}"
        )
    lines.append(
        f"overall: PSNR min {summary['psnr_db_min']:.2f} dB, mean {summary['psnr_db_mean']:.2f} dB; SSIM min {summary['ssim_min']:.5f}; "
        f"max abs {summary['max_abs_error']:.2e}; max {summary['max_error_lsb']} LSB; NaN/Inf {summary['nonfinite']}"
    )
    if "truth" in summary:
        truth = summary["truth"]
        lines.append(
            f"ground truth: mean PSNR reference {truth['reference_psnr_db']:.2f} dB, candidate {truth['candidate_psnr_db']:.2f} dB "
            f"(drop {format_number(truth['psnr_drop_db'], 3)} dB)"
        )
    lines.append(f"thresholds: {describe_thresholds(report['threshold'])}")
    lines.append("result: " + ("FAIL" if report["failures"] else "pass"))
    return "\n".join(lines)


def format_number(value, digits: int = 2) -> str:
    """A report's number: '–' for none, '∞' for infinite PSNR, and no '-0.000' for a drop that rounds to zero."""
    if value is None:
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        return text.lstrip("-") if float(text) == 0 else text
    return str(value)


def describe_thresholds(threshold: dict) -> str:
    parts = [
        f"PSNR >= {threshold['psnr_db']:.2f} dB per pair ({threshold['source']})" if threshold["psnr_db"] is not None
        else threshold["source"]
    ]
    if threshold["truth_drop_db"] is not None:
        parts.append(f"mean ground-truth PSNR drop <= {threshold['truth_drop_db']:.2f} dB")
    return "; ".join(parts + ["no NaN/Inf"])

