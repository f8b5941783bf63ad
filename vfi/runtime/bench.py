"""`vfi bench`: timings and peak memory, measured side by side in one run.

Each measurement runs in a fresh process, so the peak resident memory it reports belongs to that
implementation alone and no allocator cache carries over between implementations.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

OP_SIZES = ((256, 448), (480, 854))
OP_IMPLEMENTATIONS = ("reference", "onnx_ort")


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="bench_target", required=True)
    ops = sub.add_parser("ops", help="time every op's implementations on synthetic inputs")
    ops.add_argument("--device", choices=["cpu"], default="cpu", help="only cpu in this version")
    ops.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up (default 5)")
    ops.add_argument("--op", action="append", help="limit to these ops (repeatable)")
    ops.add_argument("--size", action="append", metavar="HxW", help="output sizes (default 256x448 and 480x854)")
    ops.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.size] if args.size else OP_SIZES
    results = bench_ops(args.op, sizes, args.repeats)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def bench_ops(op_names, sizes, repeats: int) -> dict:
    from vfi.plugins import OPS

    rows = []
    ctx = multiprocessing.get_context("spawn")
    for op in OPS:
        if op_names and op.name not in op_names:
            continue
        for height, width in sizes:
            for case in op.spec.benchmark_cases(height, width):
                row = {"op": op.name, "case": case.name, "height": height, "width": width}
                for impl in OP_IMPLEMENTATIONS:
                    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                        row[impl] = pool.submit(_measure_op, op.name, case.name, height, width, impl, repeats).result()
                row["speedup_onnx_ort_vs_reference"] = row["reference"]["median_ms"] / row["onnx_ort"]["median_ms"]
                rows.append(row)
    return {"environment": environment(), "repeats": repeats, "results": rows}


def _measure_op(op_name: str, case_name: str, height: int, width: int, impl: str, repeats: int) -> dict:
    import torch

    from vfi.export.onnx import op_model, ort_session
    from vfi.plugins import get_op

    op = get_op(op_name)
    (case,) = [c for c in op.spec.benchmark_cases(height, width) if c.name == case_name]
    inputs = case.inputs()
    if impl == "reference":
        def call():
            with torch.no_grad():
                op.reference(*inputs, **case.attrs)
    else:
        session = ort_session(op_model(op, case.attrs, tuple(t is not None for t in inputs)))
        feeds = {s.name: t.numpy() for s, t in zip(op.spec.inputs, inputs) if t is not None}
        def call():
            session.run(None, feeds)
    baseline = _reset_peak_rss()
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        call()
        if i:  # the first run is the warm-up
            times.append((time.perf_counter() - start) * 1e3)
    peak = _peak_rss_bytes()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": sorted(times)[max(0, int(round(0.9 * len(times))) - 1)],
        "peak_extra_mb": max(0, peak - baseline) / 2**20,
    }


def _reset_peak_rss() -> int:
    """Reset the process's peak resident size to the current one (Linux: clear_refs 5) so the
    peak that follows belongs to the timed runs, not to setup; returns the current size."""
    Path("/proc/self/clear_refs").write_text("5")
    return _proc_status_bytes("VmRSS")


def _peak_rss_bytes() -> int:
    return _proc_status_bytes("VmHWM")


def _proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}; peak memory needs Linux")


def environment() -> dict:
    import onnxruntime
    import torch

    import vfi

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "vfi": vfi.__version__,
        "commit": _git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def format_table(results: dict) -> str:
    env = results["environment"]
    lines = [
        f"{env['date']}  {env['cpu']} ({env['cores']} cores)  torch {env['torch']}  "
        f"onnxruntime {env['onnxruntime']}  vfi {env['vfi']} ({env['commit']})",
        "",
        f"{'op':<10} {'case':<10} {'size':>8} | {'reference ms':>12} {'peak MB':>8} | "
        f"{'ORT ms':>9} {'peak MB':>8} | {'ORT/ref speed':>13}",
    ]
    lines.append("-" * len(lines[-1]))
    for row in results["results"]:
        ref, ort = row["reference"], row["onnx_ort"]
        lines.append(
            f"{row['op']:<10} {row['case']:<10} {row['height']:>4}x{row['width']:<4}| "
            f"{ref['median_ms']:>12.1f} {ref['peak_extra_mb']:>8.0f} | "
            f"{ort['median_ms']:>9.1f} {ort['peak_extra_mb']:>8.0f} | "
            f"{row['speedup_onnx_ort_vs_reference']:>12.2f}x"
        )
    return "\n".join(lines)
