"""Which backend, device, threads and streams a run uses when the caller leaves them open.

With no backend named, a registered model runs
- on a CUDA GPU when PyTorch sees one (`--device cuda` implied): the torch backend there;
- otherwise in ONNX Runtime on the CPU, from its ONNX export cached by vfi.export.cache (exported on
  the first run, seconds to a minute). ONNX Runtime ran every registered model faster than PyTorch
  on this project's CPU machine (docs/bench_models_cpu.json: 1.05× for classic to 2.9× for DSFN).
An ONNX file runs in ONNX Runtime, an engine in TensorRT; `--dtype fp16` means PyTorch.

On the CPU, ONNX Runtime gets one stream (a concurrent inference on its share of the batch) per
usable core, up to MAX_STREAMS, with the cores divided among them as intra-op threads: whole frames
in parallel use the cores better than operators split over threads, some of which ONNX Runtime
runs serially (classic on 2 cores: ratio 1.21 against minterpolate with 2 streams × 1 thread,
0.77 with 1 stream × 2 threads; docs/classic.md). Usable cores are those this process may run on
(`os.sched_getaffinity`: containers and `taskset` limit them), not the machine's count, unless the
caller says how many cores the run has (a Ray worker: its share of the machine).

Every choice the caller makes (backend, device, threads, streams, batch size) is kept as given;
the result is the chosen backend's typed config (vfi.runtime.backends.configs), with the batch size
and `RunPath.reason`, which says what was chosen and why, for the run's summary.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from vfi.runtime.backends import BackendConfig, backend_config

# Each stream holds its own intermediate tensors (classic at 1280×720: 0.58 GB peak resident for one
# inference in ONNX Runtime, measured 2026-12-03): more streams than this cost memory for little,
# since intra-op threads then share the remaining cores.
MAX_STREAMS = 4


@dataclass(frozen=True)
class RunPath:
    config: BackendConfig  # a registered model on a CPU: the OrtConfig of its cached export
    batch_size: int
    reason: str


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cuda_name() -> str | None:
    """The name of PyTorch's first CUDA device, or None when it has none."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def choose_path(
    *,
    model: str | None,
    onnx: str | Path | None,
    engine: str | Path | None,
    backend: str | None,
    device: str | None,
    dtype: str,
    provider: str | None,
    plugins: str | Path | None,
    threads: int | None,
    streams: int | None,
    batch_size: int | None,
    weights: str | Path | None,
    seed: int,
    default_batch_size: int,
    cores: int | None = None,
) -> RunPath:
    why = []
    if backend is None:
        if engine is not None:
            backend = "trt"
        elif onnx is not None:
            backend = "ort"
        elif dtype != "fp32":
            backend = "torch"
            why.append(f"--dtype {dtype} runs in PyTorch")
        else:
            gpu = cuda_name() if device in (None, "cuda") else None
            if gpu is not None:
                backend, device = "torch", "cuda"
                why.append(f"CUDA GPU {gpu}: PyTorch on it")
            elif device == "cuda":
                backend = "torch"  # which then says that there is no CUDA device
            else:
                backend = "ort"
                why.append("no CUDA GPU: ONNX Runtime, faster than PyTorch on a CPU for every registered model")
    if device is None:
        on_gpu = backend == "trt" or provider in ("cuda", "tensorrt") or (backend == "torch" and cuda_name() is not None)
        device = "cuda" if on_gpu else "cpu"

    if backend == "ort" and onnx is None and model is not None:
        from vfi.export.cache import cached_export
        from vfi.runtime.backends import require_file

        if weights is not None:
            require_file(weights, "weights")
        started = time.perf_counter()
        def before_export(path: Path) -> None:
            from vfi.models import build, get_card
            from vfi.runtime.backends import check_module_io

            card = get_card(model)
            check_module_io(card, build(card, seed))  # a model the runtime cannot run fails before the export
            print(f"vfi: exporting {card.name} to ONNX for ONNX Runtime, once: the file is cached at {path}", file=sys.stderr)

        onnx, exported = cached_export(model, weights, seed, before_export=before_export)
        model = weights = None
        why.append(f"exported now in {time.perf_counter() - started:.0f} s to {onnx}" if exported else f"export cached at {onnx}")

    if backend == "ort" and device == "cpu" and (streams is None or threads is None):
        cores = cores or usable_cores()
        if streams is None:
            streams = min(cores, MAX_STREAMS) if threads is None else 1
        if threads is None:
            threads = max(1, cores // streams)
        why.append(f"{streams} stream(s) × {threads} thread(s) for {cores} usable core(s)")
    streams = 1 if streams is None else streams
    batch_size = batch_size or max(default_batch_size, streams)
    reason = f"{backend} on {device}" + (f" ({'; '.join(why)})" if why else " (as asked)")
    config = backend_config(
        backend, model=model, weights=weights, onnx=onnx, engine=engine, device=device, dtype=dtype, provider=provider,
        plugins=plugins, threads=threads, streams=streams, seed=seed,
    )
    return RunPath(config, batch_size, reason)
