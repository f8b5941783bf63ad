"""`vfi bench models`: per model, PyTorch eager vs ONNX Runtime (CPU) time per interpolated frame,
their ratio, peak memory, and the export time. Each measurement runs in a fresh process. Where
ONNX Runtime is slower than PyTorch, one more ORT run is profiled (SessionOptions.enable_profiling)
and its node time is reported by op type and by the costliest nodes, to say which part of the
graph costs the time."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

IMPLEMENTATIONS = ("torch", "onnx_ort")
PROFILE_TOP = 5  # op types and nodes listed where ONNX Runtime is slower
# Nodes whose profiled time is that of their subgraphs' nodes, which ORT also profiles one by one.
CONTROL_FLOW = frozenset({"Loop", "If", "Scan"})


def add_parser(sub) -> None:
    parser = sub.add_parser("models", help="PyTorch eager vs ONNX Runtime CPU per model, with peak memory and export time")
    parser.add_argument("--device", choices=["cpu"], default="cpu", help="only cpu")
    parser.add_argument("--model", action="append", help="limit to these models (repeatable)")
    parser.add_argument("--size", default="256x448", metavar="HxW", help="frame size (default 256x448)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    from vfi.models import MODELS
    from vfi.bench.measure import environment

    height, width = (int(v) for v in args.size.lower().split("x"))
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for name in args.model or list(MODELS):
        row = {"model": name, "height": height, "width": width}
        for impl in IMPLEMENTATIONS:
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                row[impl] = pool.submit(_measure, name, impl, height, width, args.repeats).result()
        row["speedup_onnx_ort_vs_torch"] = row["torch"]["median_s"] / row["onnx_ort"]["median_s"]
        print(_format_row(row), flush=True)
        if row["speedup_onnx_ort_vs_torch"] < 1:
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                row["onnx_ort_profile"] = pool.submit(_profile, name, height, width).result()
            print(_format_profile(row["onnx_ort_profile"]), flush=True)
        rows.append(row)
    results = {"environment": environment(), "repeats": args.repeats, "results": rows}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _inputs(name: str, height: int, width: int):
    """(module, input names, inputs) of the model `name` at height × width."""
    import torch

    from vfi.export.model import model_io
    from vfi.models import build, get_card

    card = get_card(name)
    module = build(card)
    input_names, _, example, _ = model_io(card, module)
    if hasattr(module, "example_inputs"):
        inputs = tuple(module.example_inputs(height, width))
    else:
        inputs = (torch.rand(1, 3, height, width), torch.rand(1, 3, height, width)) + example[2:]
    return module, input_names, inputs


def _measure(name: str, impl: str, height: int, width: int, repeats: int) -> dict:
    import torch

    from vfi.export.model import export_model
    from vfi.plugins.onnx_model import ort_session
    from vfi.bench.measure import time_calls

    module, input_names, inputs = _inputs(name, height, width)
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


def _profile(name: str, height: int, width: int) -> dict:
    """Node time of one profiled ONNX Runtime run after a warm-up: the share of each op type and
    the costliest nodes. ORT profiles the nodes of a Loop body or If branch on their own (each
    iteration, under the same name) and the Loop or If node as their total, so op-type shares
    leave the control-flow nodes out and the costliest nodes, summed over iterations, may include
    one (an op's function body that loops, such as adacof's taps or sepconv's). Nodes of one
    function inlined twice share their names, so their times add up."""
    import onnxruntime as ort

    from vfi.export.model import export_model

    _, input_names, inputs = _inputs(name, height, width)
    feeds = {n: t.numpy() for n, t in zip(input_names, inputs)}
    model = export_model(name).SerializeToString()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "ort")
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        session.run(None, feeds)  # warm-up, in the profile too: only the last run's events count
        session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    by_type, by_node = Counter(), Counter()
    last_run = max(e["ts"] for e in events if e.get("name") == "model_run")
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time") or event["ts"] < last_run:
            continue
        node, op_type, seconds = event["name"][: -len("_kernel_time")], event["args"].get("op_name", "?"), event["dur"] / 1e6
        by_node[f"{node} ({op_type})"] += seconds
        if op_type not in CONTROL_FLOW:
            by_type[op_type] += seconds
    total = sum(by_type.values()) or 1.0
    return {
        "by_op_type": [{"op_type": op, "s": s, "share": s / total} for op, s in by_type.most_common(PROFILE_TOP)],
        "top_nodes": [{"node": node, "s": s} for node, s in by_node.most_common(PROFILE_TOP)],
    }


def _format_profile(profile: dict) -> str:
    types = ", ".join(f"{p['op_type']} {p['share']:.0%}" for p in profile["by_op_type"])
    nodes = ", ".join(f"{p['node']} {p['s']:.2f} s" for p in profile["top_nodes"])
    return f"    ORT slower; node time by op type: {types}; costliest nodes: {nodes}"


def _format_row(row: dict) -> str:
    t, o = row["torch"], row["onnx_ort"]
    return (
        f"{row['model']:<28} {row['height']}x{row['width']}  torch {t['median_s']:7.2f} s ({t['peak_extra_mb']:5.0f} MiB)  "
        f"ORT {o['median_s']:7.2f} s ({o['peak_extra_mb']:5.0f} MiB)  ORT/torch speed {row['speedup_onnx_ort_vs_torch']:5.2f}x  "
        f"export {o['export_s']:5.1f} s"
    )
