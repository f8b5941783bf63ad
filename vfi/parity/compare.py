"""Both runners on every pair, compared pair by pair, and the thresholds applied."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from vfi.parity.html import pair_images
from vfi.parity.metrics import psnr, ssim, to_8bit
from vfi.parity.pairs import Pair, ParityError, check_loaded_inputs, feed
from vfi.parity.runners import Runner, check_comparable, threshold_for
from vfi.runtime.backends import FRAME_INPUTS, TIME_INPUT


INT8_TRUTH_DROP_DB = 0.5  # INT8 vs fp32: mean PSNR against ground truth (OPS.md, "Tolerances")


def compare(reference: np.ndarray, candidate: np.ndarray, truth: np.ndarray | None = None) -> dict:
    """The metrics of one pair's outputs (float32 [1,3,H,W])."""
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


def run_parity(
    reference: Runner, candidate: Runner, pairs: list[Pair], keep_images: bool = True, keep_outputs: bool = False,
    inputs_file: Path | None = None,
) -> dict:
    """Run both runners on every pair; the report as a JSON-able dict (images under "_images",
    with `keep_outputs` the outputs under "_outputs"). `inputs_file`: the Polygraphy input-data file
    the pairs were loaded from, whose feeds must then match the runners' inputs."""
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
