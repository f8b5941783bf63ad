"""A parity report as text and as strict JSON."""

from __future__ import annotations

import json
import math


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
