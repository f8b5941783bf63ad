"""`vfi plugins build`: the native libraries, built into the cache (vfi.plugins.native)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vfi.plugins import native, selftest


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="plugins_command", required=True)
    build = sub.add_parser("build", help="build the CPU harness, the CUDA kernels and the TensorRT plugin library")
    build.add_argument("--trt-root", help="TensorRT installation with include/ and lib/ (env TensorRT_ROOT)")
    build.add_argument("--trt-include", help="folder holding NvInfer.h (env TensorRT_INCLUDE_DIR)")
    build.add_argument("--trt-lib", help="folder holding libnvinfer (env TensorRT_LIBRARY_DIR)")
    build.add_argument(
        "--cuda-arch",
        help=f"CMAKE_CUDA_ARCHITECTURES (env VFI_CUDA_ARCHITECTURES; default {native.DEFAULT_CUDA_ARCHITECTURES})",
    )
    build.add_argument(
        "--compile-check", action="store_true", help="also compile the plugin sources against the TensorRT headers alone"
    )
    build.add_argument("--jobs", type=int, help="parallel compile jobs (default: CPU count)")
    selftest_parser = sub.add_parser(
        "selftest",
        help="every op through every native layer this machine has (CPU harness, emulated kernels, GPU kernels, "
        "TensorRT plugin lifecycle, engines) against the reference; the first command to run after install",
    )
    selftest.add_arguments(selftest_parser)


def run(args) -> int:
    if args.plugins_command == "selftest":
        return selftest.run(args)
    try:
        toolchain = native.find_toolchain(
            args.trt_root, args.trt_include, args.trt_lib, args.cuda_arch, args.compile_check
        )
        components = ["host", "cuda", "trt"] + (["trt_check"] if args.compile_check else [])
        info = native.build(components, toolchain, args.jobs)
    except (native.NativeError, OSError, subprocess.CalledProcessError) as error:
        print(f"vfi plugins build: {error}", file=sys.stderr)
        return 1
    print(f"build directory: {info['build_dir']}")
    for component in components:
        where = info["libraries"][component] or info["status"][component]
        print(f"  {native.COMPONENT_NAMES[component]:<31} {where}")
    print(f"build info: {Path(info['build_dir']) / 'lib' / 'build-info.json'}")
    return 0
