"""`vfi bench ops --device cuda`'s table: kernel against reference, and bandwidth as shares of the
device's peak and of its measured copy bandwidth (the numbers come from a GPU; the layout here)."""

from __future__ import annotations

from vfi.bench.ops import format_cuda_table


def test_cuda_table_reports_speedup_and_bandwidth_shares():
    results = {
        "environment": {"date": "2026-12-03", "gpu": "Test GPU", "torch": "2", "vfi": "0", "commit": "abc",
                        "gpu_peak_gb_per_s": 4000.0, "gpu_copy_gb_per_s": 3200.0},
        "results": [{"op": "softsplat", "case": "C=3 soft", "height": 1080, "width": 1920, "dtype": "float16",
                     "kernel_ms": 0.5, "reference_ms": 25.0, "speedup_kernel_vs_reference": 50.0,
                     "kernel_gb_per_s": 1600.0, "share_of_copy_bandwidth": 0.5,
                     "upstream_ms": 1.0, "speedup_kernel_vs_upstream": 2.0, "upstream_unavailable": None},
                    {"op": "adacof", "case": "F=5 D=1", "height": 1080, "width": 1920, "dtype": "float16",
                     "kernel_ms": 1.0, "reference_ms": 30.0, "speedup_kernel_vs_reference": 30.0,
                     "kernel_gb_per_s": 800.0, "share_of_copy_bandwidth": 0.25,
                     "upstream_ms": None, "speedup_kernel_vs_upstream": None, "upstream_unavailable": "CuPy is not installed"}],
    }
    table = format_cuda_table(results)
    assert "(peak 4000 GB/s, copy 3200 GB/s)" in table
    softsplat, adacof, missing = table.splitlines()[-3:]
    assert "50.0x" in softsplat and "2.0x" in softsplat and softsplat.split()[-2:] == ["40.0", "50.0"]
    assert adacof.split()[-2:] == ["20.0", "25.0"]
    assert missing == "upstream adacof: CuPy is not installed"


def test_upstream_kernels_say_why_they_are_missing(monkeypatch, tmp_path):
    import importlib.util

    from vfi.bench import upstream as bench_upstream

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "cupy" else object())
    assert bench_upstream.upstream_kernels(str(tmp_path)) == ({}, {op: "CuPy is not installed" for op in ("softsplat", "sepconv", "adacof")})
