"""Measurement helpers every benchmark shares: wall time of repeated calls with the peak resident
memory they add, and the environment a result was measured in (date, CPU, versions, commit).

Benchmarks run each measurement in a fresh process, so the peak resident memory it reports belongs
to that implementation alone and no allocator cache carries over between implementations.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import time
from pathlib import Path


def time_calls(call, repeats: int) -> tuple[list[float], float]:
    """Seconds of each of `repeats` calls after one warm-up, and the resident memory (MiB) the
    calls added at their peak."""
    baseline = _reset_peak_rss()
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        call()
        if i:  # the first run is the warm-up
            times.append(time.perf_counter() - start)
    return times, max(0, _peak_rss_bytes() - baseline) / 2**20


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
