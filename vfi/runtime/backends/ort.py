"""The ort backend: an ONNX file in ONNX Runtime (a registered model runs from its cached export,
vfi.export.cache, which vfi.runtime.choice picks).

Execution providers: `cpu` (always), `cuda` and `tensorrt` (onnxruntime-gpu). With `tensorrt`, our
plugin library is handed to the TensorRT EP (`trt_extra_plugin_lib_paths`) so the `vfi::` nodes
run as our plugins; without it TensorRT inlines their standard-op function bodies.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from vfi.export.artifact import ArtifactInfo
from vfi.runtime.backends.base import Backend, BackendError, check_io, import_dependency
from vfi.runtime.backends.configs import ORT_PROVIDERS, OrtConfig

_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
_GPU_INSTALL = "pip uninstall onnxruntime && pip install onnxruntime-gpu (CUDA 12)"


def check_external_data(path: Path) -> None:
    """Refuse an ONNX file whose tensors keep their data outside its folder (an absolute location,
    one through `..`, or a link out of it), before ONNX Runtime reads whatever file they name. A
    file that does not parse is left to ONNX Runtime, whose error says why."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # protobuf's DecodeError, onnx's own checks
        return
    folder = path.resolve().parent
    for tensor in _tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        target = (folder / location).resolve()
        if not location or Path(location).is_absolute() or not target.is_relative_to(folder):
            raise BackendError(
                f"{path}: tensor {tensor.name!r} keeps its data at {location!r}, outside the model's folder; refused"
            )


def _tensors(graph):
    """Every tensor stored in `graph` and its subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for subgraph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from _tensors(subgraph)


class OrtBackend(Backend):
    name = "ort"

    def __init__(self, config: OrtConfig):
        self.config = config
        self.model_name = config.onnx.stem
        self.session = self.pool = None

    def _providers(self, ort) -> list:
        available = ort.get_available_providers()
        provider, plugins = self.config.provider, self.config.plugins
        wanted = ORT_PROVIDERS[provider]
        if wanted not in available:
            raise BackendError(
                f"ONNX Runtime {ort.__version__} here has no {wanted} (available: {', '.join(available)}); {_GPU_INSTALL}"
            )
        if provider == "cpu":
            return ["CPUExecutionProvider"]
        chain = [] if provider == "cuda" else [
            (wanted, {"trt_extra_plugin_lib_paths": str(plugins)} if plugins else {})
        ]
        return chain + ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def _activate(self) -> None:
        ort = import_dependency("onnxruntime", "ort", "pip install onnxruntime (or onnxruntime-gpu)")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.inter_op_num_threads = 1
        # Idle intra-op threads sleep instead of spinning: on a machine whose cores other processes
        # also use, spinning workers take the CPU from the thread doing the work (classic at
        # 640×360 with 2 threads on a loaded 2-core machine: 245 ms per frame spinning, 121 ms not).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.config.threads:
            options.intra_op_num_threads = self.config.threads
        source = str(self.config.onnx)
        check_external_data(self.config.onnx)
        try:
            session = ort.InferenceSession(source, options, providers=self._providers(ort))
        except BackendError:
            raise
        except Exception as exc:  # ORT raises its own Fail / InvalidProtobuf / InvalidGraph classes
            raise BackendError(f"{source}: ONNX Runtime cannot load it ({str(exc).strip().splitlines()[0]})") from exc
        wanted = ORT_PROVIDERS[self.config.provider]
        if wanted not in session.get_providers():
            raise BackendError(f"{source}: ONNX Runtime fell back from {wanted} to {session.get_providers()}")
        inputs = session.get_inputs()
        self.arbitrary_t = check_io(source, [i.name for i in inputs], [o.name for o in session.get_outputs()])
        unsupported = [f"{i.name}: {i.type}" for i in inputs if i.type not in _NUMPY_TYPES]
        if unsupported:
            raise BackendError(f"{source}: inputs of unsupported type ({', '.join(unsupported)}); expected float or float16")
        self.input_types = {i.name: _NUMPY_TYPES[i.type] for i in inputs}
        # `vfi export` fixes the batch dimension at 1 (t has shape [1]); such files run per sample.
        self.batched = not isinstance(inputs[0].shape[0], int) or inputs[0].shape[0] != 1
        info = ArtifactInfo.from_metadata(session.get_modelmeta().custom_metadata_map)
        self.model_name = info.model or self.model_name
        self.min_size = info.min_size
        self.session = session
        if self.config.streams > 1:
            self.pool = ThreadPoolExecutor(self.config.streams, thread_name_prefix="vfi-ort-stream")

    def _infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray:
        feeds = {"frame0": frame0, "frame1": frame1}
        if self.arbitrary_t:
            feeds["t"] = t
        feeds = {name: value.astype(self.input_types[name], copy=False) for name, value in feeds.items()}
        # A batch runs as `streams` concurrent session runs (ONNX Runtime sessions are thread-safe
        # and release the GIL), each on a slice of the batch; files exported with batch 1 run per
        # sample. On a CPU this uses the cores for whole frames where intra-op threads can only
        # split single operators, some of them serial (softsplat's ScatterElements).
        samples = len(frame0)
        chunk = -(-samples // self.config.streams) if self.batched else 1
        slices = [{name: value[i : i + chunk] for name, value in feeds.items()} for i in range(0, samples, chunk)]
        if self.pool and len(slices) > 1:
            outputs = list(self.pool.map(self._run, slices))
        else:
            outputs = [self._run(part) for part in slices]
        return np.concatenate(outputs).astype(np.float32, copy=False)

    def _run(self, feeds: dict) -> np.ndarray:
        return self.session.run(None, feeds)[0]

    def _close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        self.session = self.pool = None
