"""`--ray ADDRESS` joins a running cluster (here one started by `ray start --head` on this
machine, as on a cluster's head node) instead of starting its own, and leaves it running."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from clips import scene, write_clip
from toy_models import leftovers, run_vfi

pytest.importorskip("ray", reason="needs Ray: pip install 'vfi[ray]'")
RAY = shutil.which("ray")
REPO = str(Path(__file__).resolve().parents[2])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def head():
    """A Ray head node of 2 CPUs in processes of its own; `ray stop` ends it (and any other Ray
    instance on this machine: tests/runtime/test_ray.py's has ended by the time this module runs)."""
    if RAY is None:
        pytest.skip("needs the `ray` command (pip install 'vfi[ray]' puts it beside python)")
    port = _free_port()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}
    subprocess.run([RAY, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                    "--disable-usage-stats"], check=True, capture_output=True, env=environment, timeout=180)
    yield f"127.0.0.1:{port}"
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=180)


def test_joining_a_running_cluster_by_address(tmp_path, head):
    source = write_clip(tmp_path / "in.mkv", scene(16, 8), codec="ffv1")
    result = run_vfi("interpolate", str(source), str(tmp_path / "out.mkv"), "--model", "classic", "--backend", "torch",
                     "--ray", head, "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout)
    assert summary["written"] == 31 and summary["lost"] == 0 and summary["scene_cuts"] == 1
    assert len(summary["workers"]) == 2 and sum(w["frames"] for w in summary["workers"]) == 31
    assert leftovers(tmp_path) == []
    # the cluster outlives the job: a second one joins it too
    again = run_vfi("interpolate", str(source), str(tmp_path / "again.mkv"), "--model", "classic", "--backend", "torch",
                    "--ray", head, "--workers", "1")
    assert again.returncode == 0, again.stderr.decode()
