"""`vfi bench models`: per model, PyTorch eager vs ONNX Runtime (CPU) time per interpolated frame,
their ratio, peak memory, and the export time. Each measurement runs in a fresh process."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import statistics
import time
from pathlib import Path

IMPLEMENTATIONS = ("torch", "onnx_ort")


def add_parser(sub) -> None:
    parser = sub.add_parser("models", help="PyTorch eager vs ONNX Runtime CPU per model, with peak memory and export time")
    parser.add_argument("--device", choices=["cpu"], default="cpu", help="only cpu")
    parser.add_argument("--model", action="append", help="limit to these models (repeatable)")
    parser.add_argument("--size", default="256x448", metavar="HxW", help="frame size (default 256x448)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    from vfi.models import MODELS
    from vfi.runtime.bench import environment

    height, width = (int(v) for v in args.size.lower().split("x"))
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for name in args.model or list(MODELS):
        row = {"model": name, "height": height, "width": width}
        for impl in IMPLEMENTATIONS:
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                row[impl] = pool.submit(_measure, name, impl, height, width, args.repeats).result()
        row["speedup_onnx_ort_vs_torch"] = row["torch"]["median_s"] / row["onnx_ort"]["median_s"]
        rows.append(row)
        print(_format_row(row), flush=True)
    results = {"environment": environment(), "repeats": args.repeats, "results": rows}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _measure(name: str, impl: str, height: int, width: int, repeats: int) -> dict:
    import torch

    from vfi.export.model import export_model, model_io
    from vfi.export.onnx import ort_session
    from vfi.models import build, get_card
    from vfi.runtime.bench import time_calls

    card = get_card(name)
    module = build(card)
    input_names, _, example, _ = model_io(card, module)
    if hasattr(module, "example_inputs"):
        inputs = tuple(module.example_inputs(height, width))
    else:
        inputs = (torch.rand(1, 3, height, width), torch.rand(1, 3, height, width)) + example[2:]
    result = {}
    if impl == "torch":
        def call():
            with torch.no_grad():
                module(*inputs)
    else:
        start = time.perf_counter()
        session = ort_session(export_model(name))
        result["export_s"] = time.perf_counter() - start
        feeds = {n: t.numpy() for n, t in zip(input_names, inputs)}

        def call():
            session.run(None, feeds)
    times, peak_extra_mb = time_calls(call, repeats)
    result.update(median_s=statistics.median(times), peak_extra_mb=peak_extra_mb)
    return result


def _format_row(row: dict) -> str:
    t, o = row["torch"], row["onnx_ort"]
    return (
        f"{row['model']:<28} {row['height']}x{row['width']}  torch {t['median_s']:7.2f} s ({t['peak_extra_mb']:5.0f} MiB)  "
        f"ORT {o['median_s']:7.2f} s ({o['peak_extra_mb']:5.0f} MiB)  ORT/torch speed {row['speedup_onnx_ort_vs_torch']:5.2f}x  "
        f"export {o['export_s']:5.1f} s"
    )
