"""The trt backend: our TensorRT engines, with device memory and streams through cuda-python.

Before the engine is deserialised its sidecar is verified (vfi.export.engine_sidecar): the file is
the one that was built, for this TensorRT version, this GPU and this plugin library. The plugin
library is loaded only when the sidecar names it, and only the file whose SHA-256 it records.

Execution: two slots, each with its own execution context, CUDA stream, pinned host buffers and
device buffers. Samples of a batch alternate between the slots, so the host-to-device copy of one
sample (and the host's copy into pinned memory) overlaps the other slot's compute, and results
come back with asynchronous device-to-host copies; a slot is synchronised only when it is reused.
Engines run one sample at a time (batch dimension 1): the builder's profiles are over height and
width.

Written against the TensorRT 10 / 11 Python API (named I/O tensors, `execute_async_v3`) and
cuda-python's runtime bindings (`cuda.bindings.runtime`, or `cuda.cudart` before 12.6); it runs
only on machines with TensorRT and a GPU, where the `trt` test tier exercises it.

The plugin library is loaded once per process (`load_plugin_library`, shared with `vfi build`):
TensorRT refuses a second `load_library` of the same creators, so two engines, or a build and a
run, in one process share the first handle. Before the first load the CUDA majors are compared:
the nvcc that compiled the library, the CUDA the installed TensorRT wheel is built for and the
driver's must agree (`cuda_major_mismatch`), since the library carries its own static CUDA runtime.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import re
from pathlib import Path

import numpy as np

from vfi.export.engine import TRT_INSTALL as _INSTALL
from vfi.export.engine_sidecar import read_sidecar, verify_sidecar
from vfi.models.weights import sha256_of
from vfi.runtime.backends import Backend, BackendError, check_io, import_dependency, require_file

SLOTS = 2


def _import_cudart():
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        cudart = import_dependency("cuda.cudart", "trt", _INSTALL)
    return cudart


class _Cuda:
    """cuda-python calls return (error, *results); this raises on an error and unwraps."""

    def __init__(self, cudart):
        self.rt = cudart

    def __call__(self, result):
        error, *values = result if isinstance(result, tuple) else (result,)
        if int(getattr(error, "value", error)) != 0:
            name = self.rt.cudaGetErrorName(error)[1]
            raise BackendError(f"CUDA error {name.decode() if isinstance(name, bytes) else name}")
        return values[0] if len(values) == 1 else (values or None)


class _Buffer:
    """A pinned host buffer and a device buffer of the same size, grown on demand."""

    def __init__(self, cuda: _Cuda):
        self.cuda, self.nbytes, self.host, self.device = cuda, 0, 0, 0

    def reserve(self, nbytes: int) -> None:
        if nbytes > self.nbytes:
            self.free()
            self.host = self.cuda(self.cuda.rt.cudaMallocHost(nbytes))
            self.device = self.cuda(self.cuda.rt.cudaMalloc(nbytes))
            self.nbytes = nbytes

    def host_array(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        count = int(np.prod(shape))
        raw = (ctypes.c_byte * (count * dtype.itemsize)).from_address(self.host)
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)

    def free(self) -> None:
        if self.nbytes:
            self.cuda(self.cuda.rt.cudaFreeHost(self.host))
            self.cuda(self.cuda.rt.cudaFree(self.device))
            self.nbytes = 0


class _Slot:
    """One execution context with its stream and buffers; at most one sample in flight."""

    def __init__(self, engine, cuda: _Cuda, names: list[str], dtypes: dict):
        self.cuda, self.dtypes = cuda, dtypes
        self.context = engine.create_execution_context()
        if self.context is None:
            raise BackendError("TensorRT could not create an execution context (out of GPU memory?)")
        self.stream = cuda(cuda.rt.cudaStreamCreate())
        self.buffers = {name: _Buffer(cuda) for name in names}
        self.in_flight: tuple[int, np.ndarray] | None = None

    def submit(self, index: int, feeds: dict[str, np.ndarray], output: str) -> None:
        rt = self.cuda.rt
        for name, array in feeds.items():
            array = np.ascontiguousarray(array, dtype=self.dtypes[name])
            buffer = self.buffers[name]
            buffer.reserve(array.nbytes)
            np.copyto(buffer.host_array(array.shape, array.dtype), array)
            if not self.context.set_input_shape(name, array.shape):
                raise BackendError(f"the engine rejects input {name} of shape {list(array.shape)}")
            self.cuda(rt.cudaMemcpyAsync(
                buffer.device, buffer.host, array.nbytes, rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream
            ))
            self._bind(name, buffer.device)
        shape = tuple(self.context.get_tensor_shape(output))
        dtype = self.dtypes[output]
        buffer = self.buffers[output]
        nbytes = int(np.prod(shape)) * dtype.itemsize
        buffer.reserve(nbytes)
        self._bind(output, buffer.device)
        if not self.context.execute_async_v3(self.stream):
            raise BackendError("TensorRT failed to enqueue the engine (see its log above)")
        self.cuda(rt.cudaMemcpyAsync(
            buffer.host, buffer.device, nbytes, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream
        ))
        self.in_flight = (index, buffer.host_array(shape, dtype))

    def _bind(self, name: str, address: int) -> None:
        # set_tensor_address returns False (and logs) for an unknown name or a misaligned address;
        # unchecked, the engine would run on the previous or no buffer.
        if not self.context.set_tensor_address(name, address):
            raise BackendError(f"TensorRT refused the device address of tensor {name} (see its log above)")

    def collect(self, outputs: np.ndarray) -> None:
        """Wait for the sample in flight, if any, and copy its result into outputs[index]."""
        if self.in_flight is not None:
            self.cuda(self.cuda.rt.cudaStreamSynchronize(self.stream))
            index, result = self.in_flight
            outputs[index] = result[0]
            self.in_flight = None

    def close(self) -> None:
        self.cuda(self.cuda.rt.cudaStreamSynchronize(self.stream))
        for buffer in self.buffers.values():
            buffer.free()
        self.cuda(self.cuda.rt.cudaStreamDestroy(self.stream))
        self.context = None


def environment(cuda: _Cuda, trt, plugins: Path | None) -> dict:
    """This machine's values of the sidecar keys an engine must match."""
    device = cuda(cuda.rt.cudaGetDevice())
    props = cuda(cuda.rt.cudaGetDeviceProperties(device))
    name = props.name.split(b"\0", 1)[0].decode() if isinstance(props.name, bytes) else str(props.name)
    return {
        "tensorrt_version": trt.__version__,
        "gpu_name": name,
        "compute_capability": f"{props.major}.{props.minor}",
        "plugin_sha256": sha256_of(plugins) if plugins is not None else None,
    }


# CUDA majors that have a `vfi[trt-cuNN]` extra (pyproject.toml).
TRT_EXTRA_CUDA_MAJORS = (12, 13)


def tensorrt_cuda_major() -> int | None:
    """The CUDA major the installed TensorRT is built for, or None where it cannot be told.

    The TensorRT Python API reports no CUDA version, so it is read from the pip distributions that
    provide the `tensorrt`, `tensorrt_bindings` and `tensorrt_libs` modules: tensorrt-cuNN,
    tensorrt-cuNN-bindings, tensorrt-cuNN-libs (NN the CUDA major; the libs wheel requires that
    CUDA's cudart). A TensorRT installed otherwise (a tar file, system packages) gives None."""
    providers = importlib.metadata.packages_distributions()
    names = [d for module in ("tensorrt", "tensorrt_bindings", "tensorrt_libs") for d in providers.get(module, [])]
    majors = {int(m.group(1)) for m in (re.fullmatch(r"tensorrt[-_]cu(\d+)(?:[-_].*)?", n.lower()) for n in names) if m}
    return majors.pop() if len(majors) == 1 else None


def cuda_major_mismatch(library, toolkit: str | None, tensorrt_major: int | None, driver: int | None) -> str | None:
    """Why the plugin `library`, compiled by the nvcc of CUDA `toolkit` ("13.0.88"), cannot run
    with a TensorRT built for CUDA `tensorrt_major` under a driver of CUDA version `driver`
    (cudaDriverGetVersion: 1000 * major + 10 * minor), with the fix; None when they fit. An
    unknown value (None) is not compared. The library links its own static CUDA runtime, which
    fails with "insufficient driver" under a driver of an older major, and TensorRT's CUDA major
    must be the library's."""
    toolkit_major = int(toolkit.split(".")[0]) if toolkit else None
    driver_major = driver // 1000 if driver else None
    known = {m for m in (toolkit_major, tensorrt_major) if m is not None}
    too_new = driver_major is not None and any(m > driver_major for m in known)
    if len(known) <= 1 and not too_new:
        return None
    facts = []
    if toolkit_major is not None:
        facts.append(f"{library} was compiled by nvcc of CUDA {toolkit}")
    if tensorrt_major is not None:
        facts.append(f"the installed TensorRT is built for CUDA {tensorrt_major} (tensorrt-cu{tensorrt_major})")
    if driver_major is not None:
        facts.append(f"this driver supports CUDA {driver_major}.{driver % 1000 // 10}")
    # Everything must be of one CUDA major: TensorRT's where this driver runs it, else the driver's.
    target = tensorrt_major if tensorrt_major is not None and (driver_major is None or tensorrt_major <= driver_major) else driver_major
    fixes = []
    if toolkit_major is not None and toolkit_major != target:
        fixes.append(f"rebuild the library with the nvcc of CUDA {target} (point CUDACXX at it, run `vfi plugins build`, then `vfi build` again)")
    if tensorrt_major is not None and tensorrt_major != target:
        fixes.append(f"install TensorRT for CUDA {target}{_extra_hint(target)}")
    if too_new and len(known) == 1:
        fixes[-1] += f", or update the driver to one for CUDA {known.pop()}"
    elif toolkit_major is not None and toolkit_major != target == tensorrt_major and (driver_major is None or toolkit_major <= driver_major):
        # The other way round: TensorRT of the library's CUDA, which this driver runs too.
        fixes[-1] += f", or install TensorRT for CUDA {toolkit_major}{_extra_hint(toolkit_major)}"
    return f"CUDA versions that do not fit together: {'; '.join(facts)}. Fix: {' and '.join(fixes)}"


def _extra_hint(cuda_major: int) -> str:
    return f" (pip install 'vfi[trt-cu{cuda_major}]')" if cuda_major in TRT_EXTRA_CUDA_MAJORS else ""


# Resolved path -> (SHA-256, TensorRT's handle) of each plugin library loaded in this process.
_LOADED_PLUGIN_LIBRARIES: dict[Path, tuple[str, object]] = {}


def load_plugin_library(trt, library: str | Path, cuda: _Cuda):
    """TensorRT's handle of the plugin `library`, loaded once per process.

    A second `load_library` of a library returns None (TensorRT refuses creators that are
    registered already), so later calls get the first handle, also for a copy at another path
    with the same SHA-256. A file that changed since it was loaded cannot replace the loaded
    version: that is an error, not a silent reuse of the old code."""
    path = Path(library).resolve()
    digest = sha256_of(path)
    if path in _LOADED_PLUGIN_LIBRARIES:
        loaded_digest, handle = _LOADED_PLUGIN_LIBRARIES[path]
        if loaded_digest != digest:
            raise BackendError(
                f"{path}: this process already loaded another version of this plugin library (SHA-256 "
                f"{loaded_digest[:12]}…, the file now {digest[:12]}…) and TensorRT cannot replace it; run again in a new process"
            )
        return handle
    for loaded_digest, handle in _LOADED_PLUGIN_LIBRARIES.values():
        if loaded_digest == digest:
            return handle
    from vfi.plugins.native import library_cuda_version

    mismatch = cuda_major_mismatch(path, library_cuda_version(path), tensorrt_cuda_major(), cuda(cuda.rt.cudaDriverGetVersion()))
    if mismatch:
        raise BackendError(mismatch)
    handle = trt.get_plugin_registry().load_library(str(path))
    if not handle:
        loaded = ", ".join(str(p) for p in _LOADED_PLUGIN_LIBRARIES)
        raise BackendError(
            f"{path}: TensorRT could not load this plugin library (see its log above)"
            + (f"; this process already loaded {loaded}, whose creators TensorRT will not register twice" if loaded else "")
        )
    _LOADED_PLUGIN_LIBRARIES[path] = (digest, handle)
    return handle


def _built_plugin_library() -> Path | None:
    """The plugin library in vfi's build cache for these sources and this toolchain, if built."""
    from vfi.plugins.native import NativeError, build_info

    try:
        info = build_info()
    except NativeError:
        return None
    library = info and info["libraries"].get("trt")
    return Path(library) if library else None


class TrtBackend(Backend):
    name = "trt"

    def __init__(self, engine: str | Path, *, plugins: str | Path | None = None):
        self.path = require_file(engine, "TensorRT engine")
        self.plugins = require_file(plugins, "TensorRT plugin library") if plugins is not None else None
        # The file and its sidecar are checked here, without TensorRT; the environment at activate().
        self.sidecar = read_sidecar(self.path)
        if self.sidecar["plugin_sha256"] and self.plugins is None:
            self.plugins = _built_plugin_library()
            if self.plugins is None:
                raise BackendError(
                    f"{self.path}: built with the vfi plugin library (SHA-256 {self.sidecar['plugin_sha256'][:12]}…), "
                    "which is not built here; pass it with --plugins FILE or build it with `vfi plugins build`"
                )
        self.model_name = self.sidecar.get("model") or self.path.stem
        profile = self.sidecar["profile"]
        self.profile_min, self.profile_max = tuple(profile["min"]), tuple(profile["max"])
        self.min_size = max(self.profile_min)
        self.slots: list[_Slot] = []

    def activate(self) -> None:
        try:
            trt = import_dependency("tensorrt", "trt", _INSTALL)
        except BackendError as exc:
            raise BackendError(f"{self.path}: cannot be loaded here: {exc}") from exc
        cuda = _Cuda(_import_cudart())
        verify_sidecar(self.path, environment(cuda, trt, self.plugins))
        self.logger = trt.Logger(trt.Logger.WARNING)
        if self.plugins is not None:
            load_plugin_library(trt, self.plugins, cuda)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise BackendError(f"{self.path}: TensorRT could not deserialise the engine (see its log above)")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        self.arbitrary_t = check_io(str(self.path), inputs, outputs)
        self.output_name = outputs[0]
        dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        self.slots = [_Slot(self.engine, cuda, names, dtypes) for _ in range(SLOTS)]

    def infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray:
        height, width = frame0.shape[2:]
        if not all(lo <= v <= hi for lo, v, hi in zip(self.profile_min, (height, width), self.profile_max)):
            raise BackendError(
                f"{self.path}: frames of {width}x{height} are outside the engine's profile "
                f"(min {self.profile_min[1]}x{self.profile_min[0]}, max {self.profile_max[1]}x{self.profile_max[0]}); "
                "rebuild it with `vfi build … --min/--max`"
            )
        outputs = np.empty(frame0.shape, np.float32)
        for index in range(frame0.shape[0]):
            slot = self.slots[index % SLOTS]
            slot.collect(outputs)
            feeds = {"frame0": frame0[index : index + 1], "frame1": frame1[index : index + 1]}
            if self.arbitrary_t:
                feeds["t"] = t[index : index + 1]
            slot.submit(index, feeds, self.output_name)
        for slot in self.slots:
            slot.collect(outputs)
        return outputs

    def close(self) -> None:
        for slot in self.slots:
            slot.close()
        self.slots = []
        self.engine = self.runtime = None
