"""The `vfi` command. Subcommand modules import their heavy dependencies lazily, so `vfi --help`
works whatever is installed."""

from __future__ import annotations

import argparse
import sys

import vfi
from vfi import info
from vfi.runtime import bench


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vfi", description="Video frame interpolation: custom ops, ONNX export, TensorRT, runtime."
    )
    parser.add_argument("--version", action="version", version=f"vfi {vfi.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    info_parser = sub.add_parser("info", help="versions and the available implementations of every op")
    info_parser.add_argument("--json", action="store_true", help="print JSON")
    info_parser.set_defaults(run=info.run)

    bench_parser = sub.add_parser("bench", help="benchmarks (timings are not tests)")
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(run=bench.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
