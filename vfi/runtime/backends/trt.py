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

The plugin library is loaded through vfi.plugins.tensorrt_loading: once per process, after the
CUDA majors of the library, TensorRT and the driver are compared.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from vfi.export.engine_sidecar import read_sidecar, sidecar_environment, verify_sidecar
from vfi.plugins.tensorrt_loading import TRT_INSTALL, Cuda, import_cudart, load_plugin_library
from vfi.runtime.backends.base import Backend, BackendError, check_io, import_dependency
from vfi.runtime.backends.configs import TrtConfig

SLOTS = 2


class _Buffer:
    """A pinned host buffer and a device buffer of the same size, grown on demand."""

    def __init__(self, cuda: Cuda):
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

    def __init__(self, engine, cuda: Cuda, names: list[str], dtypes: dict):
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

    def __init__(self, config: TrtConfig):
        self.path, self.plugins = config.engine, config.plugins
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

    def _activate(self) -> None:
        try:
            trt = import_dependency("tensorrt", "trt", TRT_INSTALL)
        except BackendError as exc:
            raise BackendError(f"{self.path}: cannot be loaded here: {exc}") from exc
        cuda = Cuda(import_cudart())
        verify_sidecar(self.path, sidecar_environment(cuda, trt, self.plugins))
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

    def _infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray:
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

    def _close(self) -> None:
        for slot in self.slots:
            slot.close()
        self.slots = []
        self.engine = self.runtime = None
