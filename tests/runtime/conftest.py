"""The fuzz corpus's totals in the terminal summary (tests/runtime/test_fuzz.py)."""

from __future__ import annotations

import sys
from collections import Counter


def pytest_terminal_summary(terminalreporter):
    totals = getattr(sys.modules.get("test_fuzz"), "TOTALS", None)
    if not totals:
        return
    def line(counts: Counter) -> str:
        return ", ".join(f"{outcome}: {count}" for outcome, count in sorted(counts.items()))

    by_outcome, by_family = Counter(), {}
    for (family, outcome), count in totals.items():
        by_outcome[outcome] += count
        by_family.setdefault(family, Counter())[outcome] += count
    terminalreporter.write_line(f"fuzz corpus: {sum(totals.values())} cases run; {line(by_outcome)}")
    for family, counts in by_family.items():
        terminalreporter.write_line(f"  {family}: {sum(counts.values())} ({line(counts)})")
