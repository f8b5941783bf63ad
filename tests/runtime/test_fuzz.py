"""The fuzz corpus (fuzz_corpus.py) through `vfi interpolate`, in-process: every case exits 0, 1
or 2 as documented, refusals are one line naming the file or option at fault, nothing is left at
the output path, no temporary file stays behind, no case hangs or allocates without bound, and
whatever is written decodes and adds up."""

from __future__ import annotations

import io
import json
import resource
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

import fuzz_corpus
from clips import read_clip
from vfi.cli import main

pytestmark = pytest.mark.usefixtures("toy_registered")

CASES = fuzz_corpus.corpus()
TOTALS: Counter = Counter()  # (family, outcome) → cases, printed at the end of the run (conftest.py)
TIMEOUT_S = 30  # the slowest case takes about 2 s on the 2-core CI machine
# Address space a case may add: far above any tiny input's needs, far below a 100000×100000 frame.
EXTRA_ADDRESS_SPACE = 4 << 30
PEAK_RSS_GROWTH = 1 << 30


class CaseTimeout(BaseException):
    """Not an Exception, so that no `except Exception` in the code under test swallows it."""


def _alarm(signum, frame):
    raise CaseTimeout


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: fuzz_corpus.Case, tmp_path: Path, capfd, monkeypatch):
    (tmp_path / "out").mkdir()
    args = case.build(tmp_path)
    if case.stdin:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(Path(args[0]).read_bytes())))
        args[0] = "-"
    output = Path(args[args.index("-o") + 1] if "-o" in args else args[1])
    output_before = output.read_bytes() if output.is_file() else output.is_dir()
    before = _files(tmp_path)
    capfd.readouterr()

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + EXTRA_ADDRESS_SPACE, hard))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    try:
        code = main(["interpolate", *args])
    except SystemExit as exc:  # argparse
        code = exc.code
    except CaseTimeout:
        TOTALS[case.family, "hang"] += 1
        pytest.fail(f"no result within {TIMEOUT_S} s")
    except BaseException as exc:
        TOTALS[case.family, "traceback"] += 1
        pytest.fail(f"escaped the CLI: {type(exc).__name__}: {exc}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    captured = capfd.readouterr()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    TOTALS[case.family, {0: "exit 0", 1: "exit 1 (frames lost)", 2: "exit 2 (refused)"}.get(code, f"exit {code}")] += 1

    assert rss_growth < PEAK_RSS_GROWTH, f"peak memory grew by {rss_growth >> 20} MiB"
    assert "Traceback" not in captured.err, captured.err
    assert code in case.outcomes, f"exit {code}, expected one of {sorted(case.outcomes)}:\n{captured.err}"
    after = _files(tmp_path)
    assert before <= after, f"input files removed: {sorted(map(str, before - after))}"
    if code == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith("vfi interpolate: error: ") and case.names in lines[0], lines[0]
        assert after == before, f"left behind: {sorted(map(str, after - before))}"
        assert (output.read_bytes() if output.is_file() else output.is_dir()) == output_before
        return
    assert after - before == {output}, f"expected only {output}, found {sorted(map(str, after - before))}"
    if output.suffix == ".png" and "-o" in args:
        with Image.open(output) as image:
            image.load()
        return
    summary = json.loads(captured.out)
    written = read_clip(output)
    assert len(written.frames) == summary["written"]
    if not case.stdin and case.frames is None:  # an intact input: the output shows it as it is
        source = read_clip(Path(args[0]))
        assert (written.stream["width"], written.stream["height"]) == (source.stream["width"], source.stream["height"])
        assert written.stream["rotation"] == source.stream["rotation"]  # carried over, not applied
    assert (code == 1) == (summary["lost"] > 0), summary
    if case.frames is not None and code == 0:  # a damaged copy: exit 0 only if every frame came through
        assert summary["decoded"] + summary["skipped_input"] == case.frames, summary
