"""`vfi info`: versions, and which implementations of every op are available here."""

from __future__ import annotations

import importlib.metadata
import json


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect() -> dict:
    import torch

    import vfi
    from vfi.plugins import OPS, native

    ort_version = _version("onnxruntime") or _version("onnxruntime-gpu")
    cuda = torch.cuda.is_available()
    implementations = {
        "reference": (True, f"PyTorch {torch.__version__}, CPU" + (" and CUDA" if cuda else "")),
        "torch_op": (True, "torch.ops.vfi.<op>, runs the reference"),
        "onnx_function": (
            ort_version is not None,
            f"ONNX Runtime {ort_version}, standard-op function body" if ort_version else "onnxruntime is not installed",
        ),
    }
    # Where the native libraries are (or why not), without building anything.
    toolchain = native.find_toolchain()
    build = native.build_info(toolchain)
    native_names = {"host": "host_kernel", "cuda": "cuda_kernel", "trt": "trt_plugin"}

    def op_implementations(op) -> dict:
        native_rows = native.availability(op.name, toolchain, build)
        rows = {**implementations, **{native_names[c]: native_rows[c] for c in native_names}}
        return {name: {"available": ok, "detail": detail} for name, (ok, detail) in rows.items()}

    return {
        "vfi": vfi.__version__,
        "torch": torch.__version__,
        "cuda_available": cuda,
        "onnx": _version("onnx"),
        "onnxruntime": ort_version,
        "tensorrt": _version("tensorrt"),
        "ops": {
            op.name: {
                "onnx": f"{op.spec.onnx_domain}::{op.spec.onnx_op_type}",
                "tensorrt_plugin": f"{op.spec.plugin_namespace}::{op.spec.plugin_name} v{op.spec.plugin_version}",
                "attributes": [a.name for a in op.spec.attrs],
                "implementations": op_implementations(op),
            }
            for op in OPS
        },
    }


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"vfi {info['vfi']}")
    for package in ("torch", "onnx", "onnxruntime", "tensorrt"):
        print(f"  {package:<12} {info[package] or 'not installed'}")
    print(f"  {'CUDA GPU':<12} {'yes' if info['cuda_available'] else 'no'}")
    print()
    for name, op in info["ops"].items():
        print(f"{name}  ({op['onnx']}, TensorRT plugin {op['tensorrt_plugin']}; attributes: {', '.join(op['attributes']) or 'none'})")
        for impl, status in op["implementations"].items():
            mark = "yes" if status["available"] else "no "
            print(f"  {mark}  {impl:<14} {status['detail']}")
    return 0
