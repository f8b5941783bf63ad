"""tools/gpu-check.sh, the one prepared GPU check, runs its steps and writes its report on any
machine: here, without a GPU, the build and the CPU layers pass, the GPU steps report why they
cannot run, and the script exits non-zero (a GPU machine must pass every step)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from vfi.plugins import native

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_writes_its_report(tmp_path):
    # Built beforehand (a cache hit when test_native_build.py ran): the script's build step then
    # only checks the cache, well within its time limit, which is sized for a GPU machine's cores.
    native.build()
    report = tmp_path / "report"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "tools" / "gpu-check.sh"), str(report)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    result = json.loads((report / "gpu-check.json").read_text())
    steps = {s["step"]: s["exit"] for s in result["steps"]}
    assert list(steps) == ["build", "pytest-gpu", "selftest", "bench-ops-cuda"]
    assert steps["build"] == 0, (report / "build.log").read_text()
    assert "# GPU check" in (report / "gpu-check.md").read_text()
    rows = {(r["op"], r["layer"], r["dtype"]): r["status"] for r in result["selftest"]}
    assert all(rows[(op, "host", dtype)] == "pass" for op, _, dtype in rows)
    if not torch.cuda.is_available():
        assert all(status.startswith("unavailable") for (_, layer, _), status in rows.items() if layer == "cuda")
        assert "no CUDA GPU" in (report / "bench-ops-cuda.log").read_text()
        assert done.returncode != 0
