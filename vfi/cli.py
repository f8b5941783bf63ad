"""The `vfi` command. Subcommand modules import their heavy dependencies lazily, so `vfi --help`
works whatever is installed."""

from __future__ import annotations

import argparse
import importlib
import sys

import vfi
from vfi.errors import VfiError

# (command, module with add_arguments(parser) and run(args), help)
COMMANDS = (
    ("info", "vfi.info", "versions and the available implementations of every op"),
    ("models", "vfi.models.cli", "the registered models and their cards"),
    ("export", "vfi.export.cli", "export a model to ONNX with dynamic height and width"),
    ("plugins", "vfi.plugins.cli", "native code: build the kernels and the TensorRT plugin library"),
    ("bench", "vfi.bench.cli", "benchmarks (timings are not tests)"),
    ("eval", "vfi.bench.eval", "interpolation quality (PSNR, SSIM) against ground truth on triplet folders"),
    ("demo", "vfi.demo", "generate a short synthetic clip and interpolate it with the default model"),
    ("interpolate", "vfi.runtime.cli", "interpolate a video (or y4m pipe) to a higher frame rate, or two images"),
    ("batch", "vfi.runtime.batch", "interpolate every video in a folder into another folder"),
    ("calib", "vfi.calib.cli", "calibration frames for INT8 quantization"),
    ("parity", "vfi.parity.cli", "compare two runners (PyTorch, ONNX Runtime, TensorRT) on real frames"),
    ("build", "vfi.export.engine", "build a TensorRT engine (strongly typed) from an exported ONNX file"),
)


class _Parser(argparse.ArgumentParser):
    """Option errors as one line, like every other vfi error (argparse's own print the usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vfi", description="Video frame interpolation: custom ops, ONNX export, TensorRT, runtime."
    )
    parser.add_argument("--version", action="version", version=f"vfi {vfi.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name, help_text in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a broken install of one command's dependencies leaves the others working
            why = f"importing {module_name} failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
            command = sub.add_parser(name, help=f"{help_text} [unavailable here: {why}]", description=why)
            command.set_defaults(unavailable=why)
            continue
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module_name)
        module.add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "unavailable", None):  # whatever its arguments: they are unknown without its module
        print(f"vfi {args.command}: error: this command cannot run here ({args.unavailable})", file=sys.stderr)
        return 2
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return importlib.import_module(args.module).run(args)
    except VfiError as exc:
        print(f"vfi {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
