"""`vfi plugins selftest`: the table, the JSON and the exit status."""

from __future__ import annotations

import json

import torch

from vfi.cli import main
from vfi.plugins import get_op, selftest


def test_selftest_passes_the_host_layer_and_reports_the_others(tmp_path, capsys):
    report = tmp_path / "selftest.json"
    assert main(["plugins", "selftest", "--op", "softsplat", "--layer", "host", "--layer", "cuda", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())
    host = [r for r in rows if r["layer"] == "host"]
    assert [(r["dtype"], r["status"]) for r in host] == [("float32", "pass"), ("float16", "pass")]
    assert all(r["cases"] == len(get_op("softsplat").spec.sample_cases()) and r["worst_error"] <= r["bound"] for r in host)
    out = capsys.readouterr().out
    assert "softsplat  host" in out
    if not torch.cuda.is_available():
        assert "cuda: unavailable: no CUDA GPU" in out


def test_a_wrong_layer_fails_with_the_cases_named(monkeypatch, capsys):
    def off_by_a_little(op, case, inputs, shape):
        return op.reference(*inputs, **case.attrs) + 1e-3

    monkeypatch.setattr(selftest, "layers", lambda includes: [selftest.Layer("broken", None, off_by_a_little)])
    assert main(["plugins", "selftest", "--op", "sepconv"]) == 1
    out = capsys.readouterr().out
    assert "sepconv    broken                 float32  fail" in out
    assert "1x1_k3_c3: error 0.001 > 1e-05" in out


def test_nothing_available_is_not_a_pass(monkeypatch):
    monkeypatch.setattr(selftest, "layers", lambda includes: [selftest.Layer("absent", "not here")])
    assert main(["plugins", "selftest"]) == 1
