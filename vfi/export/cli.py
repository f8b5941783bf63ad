"""`vfi export`: a registered model to one ONNX file."""

from __future__ import annotations

from pathlib import Path

def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model name from `vfi models`")
    parser.add_argument("--weights", type=Path, help="official checkpoint or .safetensors file (default: random weights)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    parser.add_argument("--opset", type=int, help="default-domain opset, 19 to 21 (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights when --weights is absent")


def run(args) -> int:
    from vfi.export.model import export_model
    from vfi.export.onnx import save_model
    from vfi.plugins.onnx_function import OPSET

    model = export_model(args.model, args.weights, args.seed, args.opset or OPSET)
    path = save_model(model, args.output)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0
