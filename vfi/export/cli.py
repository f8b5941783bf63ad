"""`vfi export`: a registered model to one ONNX file."""

from __future__ import annotations

from pathlib import Path

from vfi.export.artifact import Precision


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model name from `vfi models`")
    parser.add_argument("--weights", type=Path, help="official checkpoint or .safetensors file (default: random weights)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    parser.add_argument("--opset", type=int, help="default-domain opset, 19 to 21 (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights when --weights is absent")
    parser.add_argument("--precision", choices=[p.value for p in Precision], default=Precision.FP32.value,
                        help="the ONNX file's precision (default fp32)")
    parser.add_argument("--io-dtype", choices=["fp32", "fp16"], default="fp32", help="graph I/O type of an fp16 model (default fp32)")
    parser.add_argument("--calib", type=Path, help="calibration folder from `vfi calib collect` (needed by int8)")
    parser.add_argument("--calib-method", choices=["entropy", "percentile", "minmax"], default="entropy",
                        help="how int8 activation ranges are chosen from the calibration data (default entropy)")
    parser.add_argument("--quantizer", choices=["ort", "modelopt"], default="ort",
                        help="who places int8's Q/DQ: ONNX Runtime's quantizer (default; Conv/MatMul/Gemm inputs only) "
                             "or NVIDIA ModelOpt's TensorRT-guided placement (pip install 'vfi[modelopt]')")


def run(args) -> int:
    from vfi.errors import VfiError
    from vfi.export.model import export_model
    from vfi.export.onnx import save_model
    from vfi.plugins.onnx_function import OPSET

    precision = Precision(args.precision)
    if (precision is Precision.INT8) != (args.calib is not None):
        raise VfiError("--precision int8 needs --calib DIR, and --calib goes only with --precision int8")
    if args.quantizer != "ort" and precision is not Precision.INT8:
        raise VfiError("--quantizer goes only with --precision int8")
    if args.io_dtype == "fp16" and precision is not Precision.FP16:
        raise VfiError("--io-dtype fp16 goes only with --precision fp16")
    if args.calib is not None:
        from vfi.calib.store import read_manifest

        read_manifest(args.calib)  # a wrong folder fails before the export
    if args.quantizer == "modelopt":
        from vfi.export.quantize import require_modelopt

        require_modelopt(args.calib_method)  # as does a missing ModelOpt or a method it lacks
    model = export_model(args.model, args.weights, args.seed, args.opset or OPSET)
    if precision is Precision.FP16:
        from vfi.export.precision import to_fp16

        model = to_fp16(model, args.io_dtype)
    elif precision is Precision.INT8:
        from vfi.export.quantize import to_int8

        model = to_int8(model, args.calib, args.calib_method, args.quantizer)
    path = save_model(model, args.output)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0
