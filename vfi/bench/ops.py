"""`vfi bench ops`: every op's implementations timed on synthetic inputs, each in a fresh process
(see vfi.bench.measure): on the CPU the PyTorch reference against ONNX Runtime running the op's
function body; on a GPU our CUDA kernels against the reference and the papers' CuPy kernels."""

from __future__ import annotations

import concurrent.futures
import ctypes
import json
import multiprocessing
import statistics
import sys
from pathlib import Path

from vfi.bench.measure import environment, time_calls

OP_SIZES = ((256, 448), (480, 854))
CUDA_OP_SIZES = ((1080, 1920),)
OP_IMPLEMENTATIONS = ("reference", "onnx_ort")


def add_parser(sub) -> None:
    ops = sub.add_parser("ops", help="time every op's implementations on synthetic inputs")
    ops.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu",
        help="cpu: the reference against ONNX Runtime; cuda: our CUDA kernels against the reference on the GPU",
    )
    ops.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up (default 5)")
    ops.add_argument("--op", action="append", help="limit to these ops (repeatable)")
    ops.add_argument(
        "--size", action="append", metavar="HxW",
        help="output sizes (default 256x448 and 480x854 on cpu, 1080x1920 on cuda)",
    )
    ops.add_argument("--json", type=Path, help="also write the results as JSON to this file")


def run(args) -> int:
    default_sizes = CUDA_OP_SIZES if args.device == "cuda" else OP_SIZES
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.size] if args.size else default_sizes
    if args.device == "cuda":
        import torch

        from vfi.plugins.native import NativeError

        if not torch.cuda.is_available():
            print(f"vfi bench ops --device cuda: no CUDA GPU here (torch {torch.__version__} reports "
                  "torch.cuda.is_available() == False)", file=sys.stderr)
            return 1
        try:
            results = bench_ops_cuda(args.op, sizes, args.repeats)
        except NativeError as error:
            print(f"vfi bench ops --device cuda: {str(error).splitlines()[0]}", file=sys.stderr)
            return 1
        print(format_cuda_table(results))
    else:
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

    from vfi.plugins.onnx_model import op_model, ort_session
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
    times, peak_extra_mb = time_calls(call, repeats)
    times = [t * 1e3 for t in times]
    return {
        "median_ms": statistics.median(times),
        "p90_ms": sorted(times)[max(0, int(round(0.9 * len(times))) - 1)],
        "peak_extra_mb": peak_extra_mb,
    }


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


def bench_ops_cuda(op_names, sizes, repeats: int) -> dict:
    """Our CUDA kernels against the PyTorch reference on the same GPU, fp32 and fp16, and against
    the papers' CuPy kernels where CuPy and $VFI_UPSTREAM_DIR are there, with the kernels'
    achieved bandwidth: the bytes of the inputs and the output (each moved once at least) over the
    kernel time, next to the device's peak and its measured copy bandwidth."""
    import torch

    from vfi.plugins import NATIVE_OPS, native
    from vfi.bench.upstream import upstream_kernels

    upstream, upstream_missing = upstream_kernels()

    device = torch.cuda.current_device()
    peak = _peak_bandwidth(device)
    copy = _copy_bandwidth(repeats)
    rows = []
    for op in NATIVE_OPS:
        if op_names and op.name not in op_names:
            continue
        for height, width in sizes:
            for case in op.spec.benchmark_cases(height, width):
                for dtype in (torch.float32, torch.float16):
                    inputs = tuple(None if t is None else t.to("cuda", dtype) for t in case.inputs())
                    output = native.run(op, inputs, case.attrs, "cuda")
                    kernel_ms = _cuda_median_ms(lambda: native.run(op, inputs, case.attrs, "cuda"), repeats)
                    with torch.no_grad():
                        reference_ms = _cuda_median_ms(lambda: op.reference(*inputs, **case.attrs), repeats)
                    io_bytes = sum(t.numel() * t.element_size() for t in (*inputs, output) if t is not None)
                    upstream_ms, upstream_error = None, upstream_missing.get(op.name)
                    if op.name in upstream:
                        try:
                            with torch.no_grad():
                                upstream_ms = _cuda_median_ms(lambda: upstream[op.name](inputs, case.attrs), repeats)
                        except Exception as error:  # e.g. a kernel of theirs without fp16
                            upstream_error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                    rows.append({
                        "op": op.name, "case": case.name, "height": height, "width": width,
                        "dtype": str(dtype).removeprefix("torch."),
                        "kernel_ms": kernel_ms, "reference_ms": reference_ms,
                        "speedup_kernel_vs_reference": reference_ms / kernel_ms,
                        "kernel_gb_per_s": io_bytes / kernel_ms / 1e6,
                        "share_of_copy_bandwidth": io_bytes / kernel_ms / 1e6 / copy,
                        "upstream_ms": upstream_ms,
                        "speedup_kernel_vs_upstream": upstream_ms / kernel_ms if upstream_ms else None,
                        "upstream_unavailable": upstream_error,
                    })
    env = environment()
    env["gpu"] = torch.cuda.get_device_name(device)
    env["gpu_peak_gb_per_s"] = peak / 1e9 if peak else None
    env["gpu_copy_gb_per_s"] = copy
    return {"environment": env, "repeats": repeats, "results": rows}


def _cuda_median_ms(call, repeats: int) -> float:
    """Median GPU time of `call` (CUDA events on the current stream) after one warm-up run."""
    import torch

    call()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _copy_bandwidth(repeats: int) -> float:
    """What a device-to-device copy of 1 GiB achieves, in GB/s (bytes read plus bytes written):
    the practical ceiling a memory-bound kernel is measured against."""
    import torch

    source = torch.empty(1 << 28, dtype=torch.float32, device="cuda")
    target = torch.empty_like(source)
    milliseconds = _cuda_median_ms(lambda: target.copy_(source), repeats)
    return 2 * source.numel() * source.element_size() / milliseconds / 1e6


def _peak_bandwidth(device: int) -> float | None:
    """The device memory's peak bytes per second (two transfers per memory clock) from the CUDA
    driver, or None where it cannot be read."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    handle, clock_khz, bus_bits = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    memory_clock_rate, global_memory_bus_width = 36, 37  # CUdevice_attribute values
    if (
        driver.cuInit(0)
        or driver.cuDeviceGet(ctypes.byref(handle), device)
        or driver.cuDeviceGetAttribute(ctypes.byref(clock_khz), memory_clock_rate, handle)
        or driver.cuDeviceGetAttribute(ctypes.byref(bus_bits), global_memory_bus_width, handle)
    ):
        return None
    return 2.0 * clock_khz.value * 1e3 * bus_bits.value / 8


def format_cuda_table(results: dict) -> str:
    env = results["environment"]
    peak = env["gpu_peak_gb_per_s"]
    peak_text = f" (peak {peak:.0f} GB/s, copy {env['gpu_copy_gb_per_s']:.0f} GB/s)" if peak else f" (copy {env['gpu_copy_gb_per_s']:.0f} GB/s)"
    lines = [
        f"{env['date']}  {env['gpu']}{peak_text}  torch {env['torch']}  vfi {env['vfi']} ({env['commit']})",
        "",
        f"{'op':<10} {'case':<10} {'size':>9} {'dtype':<8}| {'kernel ms':>9} {'reference ms':>12} | "
        f"{'ref/kernel':>10} {'upstream/kernel':>15} | {'kernel GB/s':>11} {'% peak':>6} {'% copy':>6}",
    ]
    lines.append("-" * len(lines[-1]))
    for row in results["results"]:
        share = f"{100 * row['kernel_gb_per_s'] / peak:>6.1f}" if peak else f"{'-':>6}"
        lines.append(
            f"{row['op']:<10} {row['case']:<10} {row['height']:>4}x{row['width']:<4} {row['dtype']:<8}| "
            f"{row['kernel_ms']:>9.3f} {row['reference_ms']:>12.3f} | "
            f"{row['speedup_kernel_vs_reference']:>9.1f}x {_ratio(row.get('speedup_kernel_vs_upstream')):>15} | "
            f"{row['kernel_gb_per_s']:>11.1f} {share} "
            f"{100 * row['share_of_copy_bandwidth']:>6.1f}"
        )
    missing = {row["op"]: row["upstream_unavailable"] for row in results["results"] if row.get("upstream_unavailable")}
    lines += [f"upstream {op}: {why}" for op, why in missing.items()]
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return f"{value:.1f}x" if value else "-"
