"""`vfi bench`: timings and peak memory, measured side by side in one run (timings are not tests)."""

from __future__ import annotations

from vfi.bench import minterpolate, models, ops, pipeline, scaleout

TARGETS = {"ops": ops, "pipeline": pipeline, "models": models, "minterpolate": minterpolate, "ray": scaleout}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="bench_target", required=True)
    for module in TARGETS.values():
        module.add_parser(sub)


def run(args) -> int:
    return TARGETS[args.bench_target].run(args)
