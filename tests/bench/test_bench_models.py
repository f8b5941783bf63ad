"""`vfi bench models`' ONNX Runtime profile, which names the costly part of a graph where ONNX
Runtime is slower than PyTorch (the timings themselves are benchmarks, not tests)."""

from __future__ import annotations

import pytest

from vfi.bench.models import PROFILE_TOP, _format_profile, _profile


@pytest.mark.slow
def test_profile_reports_op_type_shares_and_the_costliest_nodes():
    profile = _profile("adacof_net", 64, 64)
    shares = profile["by_op_type"]
    assert 0 < len(shares) <= PROFILE_TOP and len(profile["top_nodes"]) == PROFILE_TOP
    assert 0 < sum(p["share"] for p in shares) <= 1 + 1e-9
    assert [p["s"] for p in shares] == sorted((p["s"] for p in shares), reverse=True)
    assert "Conv" in {p["op_type"] for p in shares}  # the U-Net's convolutions take time
    assert not {"Loop", "If"} & {p["op_type"] for p in shares}  # counted through their subgraphs' nodes
    assert any(p["node"].endswith("(Loop)") for p in profile["top_nodes"])  # the taps' Loop
    assert _format_profile(profile).startswith("    ORT slower; node time by op type: ")
