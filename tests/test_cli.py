"""The `vfi` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import vfi
from vfi.plugins import OPS


def run_vfi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vfi", *args], capture_output=True, text=True, timeout=300)


def test_version():
    result = run_vfi("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"vfi {vfi.__version__}"


def test_info_lists_every_op_and_its_implementations():
    result = run_vfi("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert set(info["ops"]) == {op.name for op in OPS}
    for op in OPS:
        entry = info["ops"][op.name]
        assert entry["onnx"] == (op.spec.onnx_op_type if op.standard_onnx else f"vfi::{op.spec.onnx_op_type}")
        assert (entry["tensorrt_plugin"] is None) == (not op.native)
        assert entry["implementations"]["reference"]["available"] is True
        assert entry["implementations"]["onnx_function"]["available"] is True
    text = run_vfi("info")
    assert text.returncode == 0 and all(op.name in text.stdout for op in OPS)


def test_unknown_model_is_one_clear_line():
    result = run_vfi("export", "no_such_model", "-o", "unused.onnx")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("vfi export: error: unknown model 'no_such_model'")


def test_a_command_whose_import_fails_is_a_stub_that_says_why(monkeypatch, capsys):
    import pytest

    import vfi.cli

    monkeypatch.setattr(vfi.cli, "COMMANDS", vfi.cli.COMMANDS + (("broken", "vfi_no_such_module", "a broken command"),))
    with pytest.raises(SystemExit) as help_exit:
        vfi.cli.main(["--help"])
    assert help_exit.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the help lines
    assert "interpolate" in shown and "unavailable here: importing vfi_no_such_module failed: ModuleNotFoundError" in shown
    assert vfi.cli.main(["broken", "--any", "options"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("vfi broken: error: this command cannot run here (importing vfi_no_such_module failed")
    assert vfi.cli.main(["info", "--json"]) == 0  # the other commands still run
