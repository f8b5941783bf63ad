"""Building, locating and loading the ops' native code (vfi/plugins/CMakeLists.txt).

Nothing compiles at install or import time. `build()` configures and builds on demand into a
cache directory keyed by everything the binaries depend on (the native sources, the CUDA
compiler and architectures, the TensorRT headers and their version), so a second call with the
same inputs only checks that the build is up to date. `run()` calls an op's CPU harness or CUDA
kernels through the C ABI of common/vfi_abi.h, with ctypes, driven by the op's spec.
"""

from __future__ import annotations

import ctypes
import datetime
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from vfi.errors import VfiError

PLUGINS_DIR = Path(__file__).resolve().parent
# Turing to Hopper binaries and Hopper PTX (newer GPUs compile it when loading); Volta where the
# toolkit still has it: CUDA 13 dropped sm_70. The same list as vfi/plugins/CMakeLists.txt.
_ARCHITECTURES = "75-real;80-real;86-real;89-real;90"
DEFAULT_CUDA_ARCHITECTURES = f"70-real (CUDA 12 only);{_ARCHITECTURES}"


def default_cuda_architectures(cuda_version: str | None) -> str:
    """CMAKE_CUDA_ARCHITECTURES for a toolkit of this version."""
    if cuda_version is not None and int(cuda_version.split(".")[0]) < 13:
        return f"70-real;{_ARCHITECTURES}"
    return _ARCHITECTURES


# Component -> (CMake target, file in the build folder or None for an object-only check).
TARGETS = {
    "host": ("vfi_host", "lib/libvfi_host.so"),
    "cuda": ("vfi_cuda_kernels", "lib/libvfi_cuda_kernels.so"),
    "trt": ("vfi_trt_plugins", "lib/libvfi_trt_plugins.so"),
    "trt_check": ("vfi_trt_plugins_check", None),
    "emulated": ("vfi_cuda_emulated", "bin/vfi_cuda_emulated"),
    # The driver; building it builds LIFECYCLE_PLUGINS, the plugin library it loads.
    "lifecycle": ("vfi_trt_lifecycle", "bin/vfi_trt_lifecycle"),
}
LIFECYCLE_PLUGINS = "lib/libvfi_trt_lifecycle_plugins.so"  # in the same build folder
# Component -> its key in the configuration's "status" (vfi_configuration.json).
_STATUS_KEYS = {
    "host": "host", "cuda": "cuda_kernels", "trt": "trt_plugins", "trt_check": "trt_plugins_check",
    "emulated": "cuda_emulated", "lifecycle": "trt_lifecycle",
}

_TRT_INCLUDE_CANDIDATES = ("/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu", "/usr/include")
_TRT_LIBRARY_CANDIDATES = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")


class NativeError(VfiError):
    """The native code cannot be built, found or run here; the message says why (a failed build
    adds the tail of its log, over several lines), so the CLI prints it instead of a traceback."""


@dataclass(frozen=True)
class Toolchain:
    """What a build depends on besides the sources, resolved before configuring."""

    nvcc: str | None
    cuda_version: str | None
    cuda_architectures: str
    trt_include_dir: str | None
    trt_library_dir: str | None
    trt_version: str | None
    trt_compile_check: bool = False

    def missing(self, component: str) -> str | None:
        """Why `component` cannot be built with this toolchain, or None."""
        if component in ("cuda", "trt", "emulated", "lifecycle") and self.nvcc is None:
            # The emulation needs the toolkit's headers (cuda_fp16.h), found through nvcc.
            return "no CUDA toolkit: nvcc is not on PATH, in CUDACXX or in /usr/local/cuda/bin"
        if component in ("trt", "trt_check", "lifecycle") and self.trt_include_dir is None:
            return "no TensorRT headers (NvInfer.h): set TensorRT_ROOT or TensorRT_INCLUDE_DIR, or pass --trt-include"
        if component == "trt" and self.trt_library_dir is None:
            return (
                f"no library for the TensorRT {self.trt_version} headers (libnvinfer.so.{self.trt_version.split('.')[0]}): "
                "set TensorRT_ROOT or TensorRT_LIBRARY_DIR, or pass --trt-lib"
            )
        return None


def find_toolchain(
    trt_root: str | None = None,
    trt_include_dir: str | None = None,
    trt_library_dir: str | None = None,
    cuda_architectures: str | None = None,
    trt_compile_check: bool = False,
) -> Toolchain:
    """Locate nvcc and TensorRT. Arguments win over the environment variables TensorRT_ROOT,
    TensorRT_INCLUDE_DIR, TensorRT_LIBRARY_DIR, VFI_CUDA_ARCHITECTURES and CUDACXX."""
    nvcc = _find_nvcc()
    trt_root = trt_root or os.environ.get("TensorRT_ROOT")
    include = trt_include_dir or os.environ.get("TensorRT_INCLUDE_DIR")
    candidates = [include] if include else ([f"{trt_root}/include"] if trt_root else list(_TRT_INCLUDE_CANDIDATES))
    include = next((str(Path(c).resolve()) for c in candidates if (Path(c) / "NvInfer.h").is_file()), None)
    if trt_include_dir and include is None:
        raise NativeError(f"{trt_include_dir} holds no NvInfer.h")
    version = tensorrt_header_version(include) if include else None
    library = trt_library_dir or os.environ.get("TensorRT_LIBRARY_DIR")
    if library:
        candidates = [library]
    elif trt_root:
        candidates = [f"{trt_root}/lib", f"{trt_root}/lib64"]
    else:
        candidates = [_pip_tensorrt_libs(), *_TRT_LIBRARY_CANDIDATES]
    # Only a library of the headers' major version: libnvinfer.so.<major>.
    pattern = f"libnvinfer.so.{version.split('.')[0]}*" if version else "libnvinfer.so*"
    library = next((c for c in candidates if c and include and any(Path(c).glob(pattern))), None)
    cuda_version = _nvcc_version(nvcc) if nvcc else None
    return Toolchain(
        nvcc=nvcc,
        cuda_version=cuda_version,
        cuda_architectures=cuda_architectures
        or os.environ.get("VFI_CUDA_ARCHITECTURES")
        or default_cuda_architectures(cuda_version),
        trt_include_dir=include,
        trt_library_dir=str(Path(library).resolve()) if library else None,
        trt_version=version,
        trt_compile_check=trt_compile_check,
    )


def _find_nvcc() -> str | None:
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and os.access(candidate, os.X_OK):
            return str(Path(candidate).resolve())
    return None


@functools.lru_cache(maxsize=None)
def _nvcc_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"V(\d+\.\d+\.\d+)", out)
    if not match:
        raise NativeError(f"cannot read the CUDA version from `{nvcc} --version`")
    return match.group(1)


def _pip_tensorrt_libs() -> str | None:
    """The library folder of the `tensorrt` pip wheels (libnvinfer.so.N), if installed."""
    spec = importlib.util.find_spec("tensorrt_libs")
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def tensorrt_header_version(include_dir: str) -> str:
    """MAJOR.MINOR.PATCH from NvInferVersion.h, whose macros may point at other macros."""
    text = (Path(include_dir) / "NvInferVersion.h").read_text()
    defines = dict(re.findall(r"^\s*#define\s+(\w+)\s+(\w+)", text, flags=re.MULTILINE))

    def value(name: str) -> str:
        seen = set()
        while name in defines and name not in seen:
            seen.add(name)
            name = defines[name]
        return name

    return ".".join(value(f"NV_TENSORRT_{part}") for part in ("MAJOR", "MINOR", "PATCH"))


def native_sources() -> list[Path]:
    """Every file the native build reads, in a stable order."""
    files = [PLUGINS_DIR / "CMakeLists.txt", *sorted((PLUGINS_DIR / "common").glob("*"))]
    files += sorted(PLUGINS_DIR.glob("*/csrc/*"))
    return [f for f in files if f.is_file()]


def cache_root() -> Path:
    return Path(os.environ.get("VFI_CACHE_DIR") or Path.home() / ".cache" / "vfi")


def build_dir(toolchain: Toolchain) -> Path:
    digest = hashlib.sha256()
    for path in native_sources():
        digest.update(str(path.relative_to(PLUGINS_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(asdict(toolchain), sort_keys=True).encode())
    return cache_root() / "plugins" / digest.hexdigest()[:20]


def build(components=("host", "cuda", "trt"), toolchain: Toolchain | None = None, jobs: int | None = None) -> dict:
    """Configure (once) and build `components` that this machine can build; returns the
    build info (also written to lib/build-info.json). A component that cannot be built here is
    not an error: its library is None and `status` says why."""
    toolchain = toolchain or find_toolchain()
    directory = build_dir(toolchain)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f"{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same key
        if not (directory / "vfi_configuration.json").is_file():
            _cmake(_configure_command(toolchain, directory), directory, "configure")
        configuration = json.loads((directory / "vfi_configuration.json").read_text())
        wanted = [c for c in components if configuration["status"][_STATUS_KEYS[c]] == "enabled"]
        if wanted:
            jobs = jobs or int(os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", 0)) or os.cpu_count() or 1
            command = ["cmake", "--build", str(directory), "--parallel", str(jobs), "--target"]
            _cmake(command + [TARGETS[c][0] for c in wanted], directory, "build")
        info = _describe(toolchain, directory, configuration)
        (directory / "lib").mkdir(exist_ok=True)
        (directory / "lib" / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def build_info(toolchain: Toolchain | None = None) -> dict | None:
    """The build info of an earlier build() for these sources and this toolchain, or None."""
    path = build_dir(toolchain or find_toolchain()) / "lib" / "build-info.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _configure_command(toolchain: Toolchain, directory: Path) -> list[str]:
    command = ["cmake", "-S", str(PLUGINS_DIR), "-B", str(directory), "-DCMAKE_BUILD_TYPE=Release"]
    if toolchain.nvcc:
        command += [f"-DCMAKE_CUDA_COMPILER={toolchain.nvcc}", f"-DCMAKE_CUDA_ARCHITECTURES={toolchain.cuda_architectures}"]
    else:
        command += ["-DVFI_BUILD_CUDA=OFF"]
    # CMake gets the TensorRT this toolchain found: the one the build key names.
    if toolchain.trt_include_dir:
        command += [f"-DTensorRT_INCLUDE_DIR={toolchain.trt_include_dir}"]
    if toolchain.trt_library_dir:
        command += [f"-DTensorRT_LIBRARY_DIR={toolchain.trt_library_dir}"]
    if toolchain.missing("trt"):
        command += ["-DVFI_BUILD_TRT=OFF"]
    if toolchain.trt_compile_check:
        command += ["-DVFI_TRT_COMPILE_CHECK=ON"]
    return command


def _cmake(command: list[str], directory: Path, step: str) -> None:
    if shutil.which("cmake") is None:
        raise NativeError("cmake is not installed: `pip install cmake` or your system's package (CMake >= 3.18)")
    result = subprocess.run(command, capture_output=True, text=True)
    log = directory / f"{step}.log"
    log.write_text(f"$ {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    if result.returncode != 0:
        if step == "configure":
            (directory / "vfi_configuration.json").unlink(missing_ok=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise NativeError(f"CMake {step} failed (full log: {log}):\n{tail}")


def _describe(toolchain: Toolchain, directory: Path, configuration: dict) -> dict:
    import vfi

    ops = configuration["ops"].split(";")
    libraries = {}
    status = {}
    for component, (target, filename) in TARGETS.items():
        state = configuration["status"][_STATUS_KEYS[component]]
        if filename:
            path = directory / filename
            built = path.is_file()
        else:  # the compile check leaves one object per plugin source: the shared one and one per op
            path = None
            built = len(list((directory / "CMakeFiles" / f"{target}.dir").rglob("*.o"))) == len(ops) + 1
        libraries[component] = str(path) if path and built else None
        missing = toolchain.missing(component)
        if built:
            status[component] = "built"
        elif missing:
            status[component] = f"not built: {missing}"
        else:
            status[component] = state if state != "enabled" else "not built yet"
    return {
        "vfi": vfi.__version__,
        "built_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "build_dir": str(directory),
        "ops": ops,
        "toolchain": asdict(toolchain),
        "libraries": libraries,
        "status": status,
    }


def library_path(component: str, toolchain: Toolchain | None = None) -> Path:
    """The built library (or test tool) of `component`, a key of TARGETS, building it if needed."""
    info = build([component], toolchain)
    if info["libraries"][component] is None:
        raise NativeError(f"the {component} library cannot be built here: {info['status'][component]}")
    return Path(info["libraries"][component])


@functools.lru_cache(maxsize=None)
def _library(component: str) -> ctypes.CDLL:
    return ctypes.CDLL(str(library_path(component)))


_ATTR_CTYPES = {str: ctypes.c_char_p, float: ctypes.c_float, int: ctypes.c_int64}
_DTYPE_SUFFIXES = {"float32": "f32", "float16": "f16"}


def run(op, inputs: tuple, attrs: dict, component: str = "host"):
    """The op computed by its CPU harness (component "host"), its CUDA kernels ("cuda") or those
    kernels on the CPU emulation ("emulated", see run_emulated) on torch tensors (CUDA tensors for
    "cuda", CPU tensors otherwise; one dtype, float32 or float16); inputs in spec order, None for
    an absent optional one."""
    import torch

    tensors = tuple(None if t is None else t.contiguous() for t in inputs)
    shape = op.output_shape(tensors, attrs)
    present = next(t for t in tensors if t is not None)
    if component == "emulated":
        return run_emulated(op, tensors, attrs, shape)
    output = torch.empty(shape, dtype=present.dtype, device=present.device)
    call(op, component, tensors, output, attrs)
    return output


EMULATION_SCHEDULES = ("concurrent", "serial")


def run_emulated(op, inputs: tuple, attrs: dict, output_shape: tuple, schedule: str = "concurrent"):
    """The op computed by its CUDA kernels on the CPU emulation (emulation/README.md), in a
    sanitizer-instrumented subprocess, on CPU tensors of one dtype; NativeError with the op's
    message when it refuses the arguments or with the sanitizer's report when one fires."""
    command = [str(library_path("emulated")), "--schedule", schedule]
    return _run_driver(command, "emulated kernels", op, inputs, attrs, output_shape)


LIFECYCLE_INVALID_MODES = ("field-type", "unknown-field", "output-shapes-count", "output-shapes-rank", "shape-change")


def run_plugin_lifecycle(
    op, inputs: tuple, attrs: dict, output_shape: tuple, toolchain: Toolchain | None = None, invalid: str | None = None
):
    """The op computed by its TensorRT plugin taken through TensorRT's plugin lifecycle on the CPU
    (lifecycle/trt_lifecycle.cpp: loading, creation from the ONNX parser's fields, build,
    serialisation, enqueue on the emulated kernels), against the TensorRT headers of `toolchain`,
    in a sanitizer-instrumented subprocess, on CPU tensors of one dtype. NativeError with the
    plugin's message when it refuses the arguments, or with the driver's report when a lifecycle
    check or a sanitizer fails. `invalid` (one of LIFECYCLE_INVALID_MODES) breaks one step on
    purpose; the plugin must then refuse with a message."""
    if invalid is not None and invalid not in LIFECYCLE_INVALID_MODES:
        raise ValueError(f"invalid must be one of {', '.join(LIFECYCLE_INVALID_MODES)}, got {invalid!r}")
    command = [str(library_path("lifecycle", toolchain)), *(["--invalid", invalid] if invalid else [])]
    return _run_driver(command, "TensorRT plugin lifecycle", op, inputs, attrs, output_shape)


def _run_driver(command: list[str], layer: str, op, inputs: tuple, attrs: dict, output_shape: tuple):
    """One case through a native test driver (case_files); the output as a CPU tensor."""
    import torch

    from vfi.plugins import case_files

    dtype = str(next(t for t in inputs if t is not None).dtype).removeprefix("torch.")
    if dtype not in _DTYPE_SUFFIXES:
        raise NativeError(f"{op.name}: the native code takes float32 or float16, got {dtype}")
    arrays = [None if t is None else t.numpy() for t in inputs]
    try:
        (result,) = case_files.run_cases(command, op, [(arrays, attrs, output_shape)], dtype)
    except case_files.DriverError as error:
        raise NativeError(f"{op.name} ({layer}): {error}") from None
    if result.error is not None:
        raise NativeError(f"{op.name} ({layer}): {result.error}")
    return torch.from_numpy(result.output)


def call(op, component: str, inputs: tuple, output, attrs: dict) -> None:
    """Call the C ABI on contiguous rank-4 `inputs` and a preallocated `output` as given; the
    native code checks that their shapes fit and NativeError carries its message if not."""
    import torch

    suffix = _DTYPE_SUFFIXES.get(str(output.dtype).removeprefix("torch."))
    if suffix is None:
        raise NativeError(f"{op.name}: the native code takes float32 or float16, got {output.dtype}")
    symbol = f"vfi_{op.name}_{component}_{suffix}"
    function = getattr(_library(component), symbol)
    function.restype = ctypes.c_int
    function.argtypes = [
        ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p,
        *(_ATTR_CTYPES[a.kind] for a in op.spec.attrs),
        *([ctypes.c_void_p] if component == "cuda" else []),  # the stream
        ctypes.POINTER(ctypes.c_char_p),
    ]
    shapes = []
    for t in [*inputs, output]:
        if t is not None and (t.dim() != 4 or t.dtype != output.dtype or not t.is_contiguous()):
            raise NativeError(f"{op.name}: the native code takes contiguous NCHW {output.dtype} tensors")
        shapes += list(t.shape) if t is not None else [0, 0, 0, 0]
    pointers = (ctypes.c_void_p * len(inputs))(*(None if t is None else t.data_ptr() for t in inputs))
    attr_values = []
    for a in op.spec.attrs:
        value = a.kind(attrs.get(a.name, a.default))
        attr_values.append(value.encode() if a.kind is str else value)
    stream = [torch.cuda.current_stream(output.device).cuda_stream] if component == "cuda" else []
    error = ctypes.c_char_p()
    status = function(
        pointers, (ctypes.c_int64 * len(shapes))(*shapes), output.data_ptr(), *attr_values, *stream, ctypes.byref(error)
    )
    if status != 0:
        raise NativeError(f"{symbol}: {error.value.decode() if error.value else 'failed'} (status {status})")


COMPONENT_NAMES = {
    "host": "CPU harness",
    "cuda": "CUDA kernels",
    "trt": "TensorRT plugin library",
    "trt_check": "TensorRT header compile check",
    "emulated": "CUDA kernels emulated on the CPU",
    "lifecycle": "TensorRT plugin lifecycle on the CPU",
}


def availability(op_name: str, toolchain: Toolchain | None = None, info: dict | None = None) -> dict:
    """For `vfi info`: component -> (available, where or why not), without building anything."""
    from vfi.plugins import get_op

    toolchain = toolchain or find_toolchain()
    info = info if info is not None else build_info(toolchain)
    result = {}
    for component in ("host", "cuda", "trt"):
        if not get_op(op_name).native or (info and op_name not in info["ops"]):
            result[component] = (False, "no native implementation of this op")
        else:
            library, why_not = built_library(component, toolchain, info)
            result[component] = (library is not None, library or why_not)
    return result


def built_library(component: str, toolchain: Toolchain, info: dict | None) -> tuple[str | None, str | None]:
    """The library of `component` that `info` (build_info's) says is built, or None and why not,
    without building anything."""
    if info and info["libraries"][component]:
        return info["libraries"][component], None
    return None, toolchain.missing(component) or "not built: run `vfi plugins build`"


def library_cuda_version(library: str | os.PathLike) -> str | None:
    """The CUDA version of the nvcc that compiled `library`, from the build-info.json that build()
    writes beside it; None for a library vfi did not build (nothing records its compiler)."""
    library = Path(library).resolve()
    try:
        info = json.loads((library.parent / "build-info.json").read_text())
    except (OSError, ValueError):
        return None
    if library not in {Path(p).resolve() for p in info.get("libraries", {}).values() if p}:
        return None
    return info.get("toolchain", {}).get("cuda_version")
