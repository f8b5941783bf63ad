"""`vfi info`: versions, the TensorRT plugin library and its creators, and which implementations
of every op are available here."""

from __future__ import annotations

import importlib.metadata
import json

from vfi.errors import VfiError


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def trt_plugin_library(toolchain, build: dict | None) -> dict:
    """The TensorRT plugin library `vfi plugins build` made (its path, or why there is none) and
    its creators: those TensorRT registers when it loads the library where that can be done here,
    else those the op specs declare, with the reason."""
    from vfi.plugins import NATIVE_OPS, native

    library, why_not = native.built_library("trt", toolchain, build)
    creators, why_declared = _registered_creators(library) if library else (None, "no library to load")
    if creators is None:
        creators = [_creator(op.spec.plugin_name, op.spec.plugin_version, op.spec.plugin_namespace) for op in NATIVE_OPS]
        source = f"declared by the op specs ({why_declared})"
    else:
        source = why_declared
    return {"path": library, "status": "built" if library else why_not, "creators": creators, "creators_source": source}


def _registered_creators(library: str) -> tuple[list[dict] | None, str]:
    """The creators TensorRT's plugin registry gains by loading `library` (through the runtime's
    loader, as `vfi build` loads it) and where they come from; or None and why that cannot be done."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        return None, f"TensorRT not importable here: {exc}"
    from vfi.plugins.tensorrt_loading import Cuda, import_cudart, load_plugin_library

    registry = trt.get_plugin_registry()

    def registered() -> set[tuple[str, str, str]]:
        # all_creators, not plugin_creator_list: that lists IPluginV2 creators only and is gone in TensorRT 11.
        return {(c.name, c.plugin_version, c.plugin_namespace) for c in registry.all_creators}

    before = registered()
    try:
        load_plugin_library(trt, library, Cuda(import_cudart()))
    except VfiError as exc:
        return None, f"TensorRT could not load the library here: {exc}"
    return [_creator(*key) for key in sorted(registered() - before)], f"registered by TensorRT {trt.__version__} from the library"


def _creator(name: str, version: str, namespace: str) -> dict:
    return {"name": name, "version": version, "namespace": namespace}


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
        if op.standard_onnx is not None and ort_version is not None:
            rows["onnx_function"] = (True, f"ONNX Runtime {ort_version}, the standard {op.spec.onnx_op_type} node")
        return {name: {"available": ok, "detail": detail} for name, (ok, detail) in rows.items()}

    return {
        "vfi": vfi.__version__,
        "torch": torch.__version__,
        "cuda_available": cuda,
        "onnx": _version("onnx"),
        "onnxruntime": ort_version,
        "tensorrt": _version("tensorrt"),
        "trt_plugin_library": trt_plugin_library(toolchain, build),
        "ops": {
            op.name: {
                "onnx": op.spec.onnx_op_type if op.standard_onnx else f"{op.spec.onnx_domain}::{op.spec.onnx_op_type}",
                "tensorrt_plugin": (f"{op.spec.plugin_namespace}::{op.spec.plugin_name} v{op.spec.plugin_version}"
                                    if op.native else None),
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
    library = info["trt_plugin_library"]
    print(f"TensorRT plugin library: {library['path'] or 'none (' + library['status'] + ')'}")
    print(f"  creators {library['creators_source']}:")
    for creator in library["creators"]:
        print(f"    {creator['namespace']}::{creator['name']} v{creator['version']}")
    print()
    for name, op in info["ops"].items():
        plugin = f"TensorRT plugin {op['tensorrt_plugin']}" if op["tensorrt_plugin"] else "no TensorRT plugin of ours"
        print(f"{name}  ({op['onnx']}, {plugin}; attributes: {', '.join(op['attributes']) or 'none'})")
        for impl, status in op["implementations"].items():
            mark = "yes" if status["available"] else "no "
            print(f"  {mark}  {impl:<14} {status['detail']}")
    return 0
