"""The INT8 quantizers side by side (docs/precision.md): for every model with something to quantize,
its fp32 export and the INT8 variants of `ort` and `modelopt` calibrated on one store: PSNR
against the fp32 file in ONNX Runtime (Middlebury pairs at t = 0.5; DSFN on car-turn clips), the
Q/DQ pairs and the op types they feed, file size and the time each step took.

    python tools/compare_quantizers.py --data ../shared/data --json docs/quantizers_cpu.json [--models M ...]
    python tools/compare_quantizers.py --json docs/quantizers_cpu.json --table

Prints the Markdown table rows of each model as it goes (--table: of a finished run); needs the
modelopt extra.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from vfi.calib.collect import collect
from vfi.export.model import export_model
from vfi.fileio import write_atomically
from vfi.export.onnx import save_model
from vfi.plugins.onnx_model import ort_session
from vfi.export.quantize import QUANTIZED_OPS, QUANTIZERS, dequantized_readers, qdq_violations, to_int8
from vfi.models import MODELS
from vfi.parity.compare import compare
from vfi.parity.pairs import feed, load_pairs

CALIBRATION_SAMPLES = 4
CALIBRATION_METHOD = "minmax"
CLIP_STARTS = (0, 20, 40, 60)  # DSFN: four-frame car-turn clips from these frames, 90x160 as its parity test


def qdq_summary(model: onnx.ModelProto) -> dict:
    """Q/DQ pairs on activations and on weights, and the op types the dequantized tensors feed."""
    initializers = {init.name for init in model.graph.initializer}
    quantize = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    return {
        "activation_pairs": sum(n.input[0] not in initializers for n in quantize),
        "weight_pairs": sum(n.input[0] in initializers for n in quantize),
        # DequantizeLinear of a weight stored already quantized (int8 initializer, no QuantizeLinear).
        "stored_int8_weights": sum(1 for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in initializers),
        "dequantized_readers": dict(dequantized_readers(model).most_common()),
    }


def car_turn_clips(data: Path) -> list[tuple[str, list[np.ndarray]]]:
    import av
    import torch

    with av.open(str(data / "videos" / "car-turn.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(max(CLIP_STARTS) + 4), container.decode(video=0))]
    clips = []
    for start in CLIP_STARTS:
        clip = torch.from_numpy(np.stack(frames[start : start + 4])).permute(0, 3, 1, 2).float() / 255
        clip = torch.nn.functional.interpolate(clip, size=(90, 160), mode="area").numpy()
        clips.append((f"car-turn {start}-{start + 3}", [clip[i : i + 1] for i in range(4)]))
    return clips


def feeds_of(name: str, model: onnx.ModelProto, data: Path) -> list[tuple[str, dict, np.ndarray | None]]:
    inputs = [i.name for i in model.graph.input]
    if "frame2" in inputs:
        return [(what, dict(zip(inputs, frames)), None) for what, frames in car_turn_clips(data)]
    return [(pair.name, feed(pair, inputs), pair.truth) for pair in load_pairs(data / "middlebury")]


def measure(name: str, data: Path, stores: dict[str, Path], folder: Path) -> dict:
    start = time.perf_counter()
    fp32 = export_model(name)
    export_seconds = time.perf_counter() - start
    fp32_path = save_model(fp32, folder / f"{name}.fp32.onnx")
    cases = feeds_of(name, fp32, data)
    reference = ort_session(fp32)
    expected = [reference.run(None, feeds) for _, feeds, _ in cases]
    del reference
    store = stores["runs" if "frame2" in [i.name for i in fp32.graph.input] else "pairs"]
    result = {"model": name, "fp32_export_s": export_seconds, "fp32_mib": fp32_path.stat().st_size / 2**20, "quantizers": {}}
    for quantizer in QUANTIZERS:
        start = time.perf_counter()
        int8 = to_int8(fp32, store, CALIBRATION_METHOD, quantizer)
        quantize_seconds = time.perf_counter() - start
        path = save_model(int8, folder / f"{name}.int8-{quantizer}.onnx")
        session = ort_session(int8)
        rows = []
        for (what, feeds, truth), want in zip(cases, expected):
            for got, ref in zip(session.run(None, feeds), want):
                row = compare(ref, got, truth)
                rows.append({"case": what, "psnr_db": row["psnr_db"], "max_error_lsb": row["max_error_lsb"],
                             "nonfinite": row["nonfinite"], "truth_drop_db": row.get("truth", {}).get("psnr_drop_db")})
        del session
        psnrs = [r["psnr_db"] for r in rows]
        drops = [r["truth_drop_db"] for r in rows if r["truth_drop_db"] is not None]
        result["quantizers"][quantizer] = {
            "quantize_s": quantize_seconds,
            "mib": path.stat().st_size / 2**20,
            "violations": qdq_violations(int8),
            **qdq_summary(int8),
            "psnr_db_mean": float(np.mean(psnrs)),
            "psnr_db_min": float(np.min(psnrs)),
            "max_error_lsb": max(r["max_error_lsb"] for r in rows),
            "nonfinite": sum(r["nonfinite"] for r in rows),
            "truth_drop_db_mean": float(np.mean(drops)) if drops else None,
            "rows": rows,
        }
    return result


TABLE_HEADER = (
    "| model | quantizer | PSNR vs fp32, mean (min) | max error | GT drop | Q/DQ pairs: activations + weights | "
    "dequantized tensors read by | file | time |\n|---|---|---|---|---|---|---|---|---|"
)


def markdown_rows(result: dict) -> str:
    """The table rows of one model: its fp32 export, then each quantizer's INT8 variant."""
    rows = [f"| {result['model']} | fp32 export | | | | | | {result['fp32_mib']:.1f} MiB | {result['fp32_export_s']:.0f} s |"]
    for quantizer in QUANTIZERS:
        q = result["quantizers"][quantizer]
        readers = ", ".join(f"{op} {count}" for op, count in q["dequantized_readers"].items())
        drop = "–" if q["truth_drop_db_mean"] is None else f"{q['truth_drop_db_mean']:+.3f} dB"
        weights = q["weight_pairs"] + q["stored_int8_weights"]
        stored = "int8" if q["stored_int8_weights"] else "fp32"
        rows.append(
            f"| | {quantizer} | {q['psnr_db_mean']:.1f} ({q['psnr_db_min']:.1f}) dB | {q['max_error_lsb']} LSB | {drop} | "
            f"{q['activation_pairs']} + {weights} (weights stored {stored}) | {readers} | {q['mib']:.1f} MiB | {q['quantize_s']:.0f} s |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="the shared test media (middlebury/, videos/, sequences/)")
    parser.add_argument("--json", type=Path, required=True, help="write every measured number here")
    parser.add_argument("--models", nargs="+", help="default: every registered model with Conv, MatMul or Gemm")
    parser.add_argument("--table", action="store_true", help="measure nothing: print the Markdown table of --json")
    args = parser.parse_args()
    if args.table:
        print("\n".join([TABLE_HEADER, *(markdown_rows(r) for r in json.loads(args.json.read_text())["results"])]))
        return
    if args.data is None:
        parser.error("--data is needed to measure")
    names = args.models or [n for n in MODELS if n != "classic"]  # classic: no Conv/MatMul/Gemm (to_int8 refuses it)
    results = []
    with tempfile.TemporaryDirectory(prefix="vfi-quantizers-") as tmp:
        folder = Path(tmp)
        sources = [args.data / "videos" / "car-turn.mp4", args.data / "sequences" / "cdfi-img-seq"]
        stores = {"pairs": folder / "pairs", "runs": folder / "runs"}
        collect(sources, stores["pairs"], CALIBRATION_SAMPLES)
        collect(sources[1:], stores["runs"], CALIBRATION_SAMPLES, frames=4, downscale=4)
        print(TABLE_HEADER)
        for name in names:
            results.append(measure(name, args.data, stores, folder))
            print(markdown_rows(results[-1]), flush=True)
            for path in folder.glob(f"{name}.*.onnx"):
                path.unlink()
            write_atomically(args.json, json.dumps({
                "date": datetime.date.today().isoformat(),
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {len(os.sched_getaffinity(0))} cores",
                "quantized_ops_of_ort": list(QUANTIZED_OPS),
                "calibration": {"samples": CALIBRATION_SAMPLES, "method": CALIBRATION_METHOD},
                "results": results,
            }, indent=1).encode() + b"\n")


if __name__ == "__main__":
    main()
