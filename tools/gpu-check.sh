#!/usr/bin/env bash
# The prepared GPU check: on a CUDA machine with PyTorch (CuPy and TensorRT optional), from the
# repository root, in at most ~8 minutes on a datacenter GPU. It builds the native code, runs the
# GPU tests, `vfi plugins selftest` and `vfi bench ops --device cuda` (1080p, fp32 and fp16), and
# writes one report, REPORT_DIR/gpu-check.json and REPORT_DIR/gpu-check.md, with every step's log
# beside it. Exits 0 only when every step passed.
#
#   bash tools/gpu-check.sh [REPORT_DIR]     (default: gpu-check-report)
set -uo pipefail
report=${1:-gpu-check-report}
mkdir -p "$report"
python=${PYTHON:-python3}
declare -A status seconds

step() {  # step NAME TIMEOUT_S COMMAND...
    local name=$1 limit=$2
    shift 2
    local started=$SECONDS
    echo "== $name: $*" >&2
    timeout "$limit" "$@" >"$report/$name.log" 2>&1
    status[$name]=$?
    seconds[$name]=$((SECONDS - started))
    echo "   exit ${status[$name]} after ${seconds[$name]} s (log: $report/$name.log)" >&2
}

step build 150 "$python" -m vfi plugins build
step pytest-gpu 180 "$python" -m pytest -q -m gpu tests/plugins tests/runtime/test_gpu_backends.py tests/export/test_engine.py
# The emulated layer is the CPU's (CI runs it); here the silicon: harness, GPU kernels, engines.
step selftest 90 "$python" -m vfi plugins selftest --layer host --layer cuda --layer trt --json "$report/selftest.json"
step bench-ops-cuda 60 "$python" -m vfi bench ops --device cuda --json "$report/bench-ops-cuda.json"

summary=""
for name in build pytest-gpu selftest bench-ops-cuda; do
    summary+="$name ${status[$name]} ${seconds[$name]};"
done
"$python" - "$report" "$summary" <<'PY'
import json, sys, datetime, pathlib
report, summary = pathlib.Path(sys.argv[1]), sys.argv[2]
steps = [dict(zip(("step", "exit", "seconds"), (s.split()[0], int(s.split()[1]), int(s.split()[2]))))
         for s in summary.split(";") if s]
def load(name):
    path = report / name
    return json.loads(path.read_text()) if path.is_file() else None
result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "steps": steps,
          "selftest": load("selftest.json"), "bench_ops_cuda": load("bench-ops-cuda.json")}
(report / "gpu-check.json").write_text(json.dumps(result, indent=2) + "\n")
lines = [f"# GPU check, {result['date']}", "", "| step | exit | seconds |", "|---|---|---|"]
lines += [f"| {s['step']} | {s['exit']} | {s['seconds']} |" for s in steps]
for name, title in (("pytest-gpu", "GPU tests"), ("selftest", "vfi plugins selftest"), ("bench-ops-cuda", "vfi bench ops --device cuda")):
    log = (report / f"{name}.log")
    if log.is_file():
        tail = log.read_text(errors="replace").strip().splitlines()[-40:]
        lines += ["", f"## {title}", "", "```", *tail, "```"]
(report / "gpu-check.md").write_text("\n".join(lines) + "\n")
print(report / "gpu-check.md")
PY
for name in build pytest-gpu selftest bench-ops-cuda; do
    [ "${status[$name]}" -eq 0 ] || exit 1
done
