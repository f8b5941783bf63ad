"""Benchmarks and evaluation: `vfi bench` (timings, measured side by side in one run; vfi.bench.cli)
and `vfi eval` (quality against ground truth; vfi.bench.eval), with FFmpeg's minterpolate as the
baseline both compare against."""
