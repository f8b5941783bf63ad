"""The sidecar `model.engine.json` next to every TensorRT engine: the engine's cache key.

A serialized engine is executable code tied to one TensorRT version, one GPU model and one plugin
library build, and TensorRT either refuses a mismatched engine with an opaque error or, worse,
loads it. So the builder (`vfi build`) writes the key next to the engine with `write_sidecar`, and
the runtime calls `verify_sidecar` before deserialising: the engine file must be the one the
sidecar describes (its SHA-256), and the environment must match what it was built for.

Keys:

| key | written by the builder | checked at load time |
|---|---|---|
| `engine_sha256` | SHA-256 of the engine file | yes: the file is the one that was built |
| `onnx_sha256` | SHA-256 of the ONNX file built from | no (identifies the source for a rebuild) |
| `precision` | `fp32`, `fp16` or `int8` | no (reported) |
| `quantizer` | INT8: `ort` or `modelopt` (vfi.export.artifact.ArtifactInfo); null otherwise | no (reported; picks `vfi parity`'s INT8 threshold) |
| `profile` | `{"min": [H, W], "opt": [H, W], "max": [H, W]}` | frame sizes are checked against it |
| `tensorrt_version` | `tensorrt.__version__` | yes |
| `gpu_name`, `compute_capability` | the build GPU, e.g. `"8.9"` | yes |
| `plugin_sha256` | SHA-256 of the plugin library, or null without plugins | yes, against the library loaded |
| `vfi_version` | `vfi.__version__` | no: the runtime of a newer vfi runs an older engine |
| `onnx_path` | the ONNX file built from, as given | no (named in the rebuild hint) |
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vfi.errors import VfiError
from vfi.fileio import sha256_of, write_atomically

SIDECAR_SUFFIX = ".json"
REQUIRED_KEYS = (
    "engine_sha256",
    "onnx_sha256",
    "precision",
    "profile",
    "tensorrt_version",
    "gpu_name",
    "compute_capability",
    "plugin_sha256",
    "vfi_version",
)
# Keys whose value must equal the loading environment's (see the table above).
ENVIRONMENT_KEYS = ("tensorrt_version", "gpu_name", "compute_capability", "plugin_sha256")


class EngineSidecarError(VfiError):
    """An engine whose sidecar is missing, unreadable, or describes another file or machine."""


def sidecar_path(engine: str | os.PathLike) -> Path:
    engine = Path(engine)
    return engine.with_name(engine.name + SIDECAR_SUFFIX)


def write_sidecar(engine: str | os.PathLike, key: dict) -> Path:
    """Write the sidecar of `engine` from `key` (every REQUIRED_KEYS entry but engine_sha256,
    which is computed here), through a temporary file renamed on success."""
    engine = Path(engine)
    content = {**key, "engine_sha256": sha256_of(engine)}
    missing = [k for k in REQUIRED_KEYS if k not in content]
    if missing:
        raise ValueError(f"sidecar of {engine} lacks {', '.join(missing)}")
    path = sidecar_path(engine)
    write_atomically(path, json.dumps(content, indent=2, sort_keys=True) + "\n")
    return path


def read_sidecar(engine: str | os.PathLike) -> dict:
    """The sidecar of `engine`, checked to describe exactly this engine file."""
    engine = Path(engine)
    if not engine.is_file():
        raise EngineSidecarError(f"{engine}: no such file")
    path = sidecar_path(engine)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise EngineSidecarError(
            f"{engine}: no sidecar {path.name} beside it; engines are loaded only with the cache key "
            "the builder writes (rebuild with `vfi build MODEL.onnx -o ENGINE`)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EngineSidecarError(f"{path}: not a readable engine sidecar ({exc})") from exc
    if not isinstance(content, dict):
        raise EngineSidecarError(f"{path}: not a readable engine sidecar (expected a JSON object)")
    missing = [k for k in REQUIRED_KEYS if k not in content]
    if missing:
        raise EngineSidecarError(f"{path}: engine sidecar lacks {', '.join(missing)}")
    _check_types(path, content)
    digest = sha256_of(engine)
    if content["engine_sha256"] != digest:
        raise EngineSidecarError(
            f"{engine}: the file's SHA-256 {digest[:12]}… differs from {content['engine_sha256'][:12]}… "
            f"recorded in {path.name}: the engine was changed or replaced after it was built; rebuild it"
        )
    return content


def _check_types(path: Path, content: dict) -> None:
    """The values the runtime computes with: hashes are strings, the profile holds [H, W] sizes."""
    for key in ("engine_sha256", "onnx_sha256", "tensorrt_version", "gpu_name", "compute_capability"):
        if not isinstance(content[key], str):
            raise EngineSidecarError(f"{path}: engine sidecar's {key} is not a string: {content[key]!r}")
    profile = content["profile"]
    sizes = [profile.get(k) for k in ("min", "opt", "max")] if isinstance(profile, dict) else []
    if not sizes or not all(
        isinstance(size, list) and len(size) == 2 and all(type(v) is int and v > 0 for v in size) for size in sizes
    ):
        raise EngineSidecarError(
            f"{path}: engine sidecar's profile is not {{\"min\": [H, W], \"opt\": [H, W], \"max\": [H, W]}}: {profile!r}"
        )


def verify_sidecar(engine: str | os.PathLike, environment: dict) -> dict:
    """The sidecar of `engine` after checking it against `environment` (a value for each of
    ENVIRONMENT_KEYS); a mismatch is refused with what differs and how to rebuild."""
    content = read_sidecar(engine)
    differences = [
        f"{key} {content[key]!r} (this machine: {environment[key]!r})"
        for key in ENVIRONMENT_KEYS
        if content[key] != environment[key]
    ]
    if differences:
        source = content.get("onnx_path") or f"the ONNX file with SHA-256 {str(content['onnx_sha256'])[:12]}…"
        raise EngineSidecarError(
            f"{engine}: built for another environment: {'; '.join(differences)}; "
            f"rebuild it here with `vfi build {source} -o {engine}`"
        )
    return content


def sidecar_environment(cuda, trt, plugins: Path | None) -> dict:
    """This machine's values of the sidecar's environment keys, which an engine must match; `cuda`
    is a vfi.plugins.tensorrt_loading.Cuda."""
    device = cuda(cuda.rt.cudaGetDevice())
    props = cuda(cuda.rt.cudaGetDeviceProperties(device))
    name = props.name.split(b"\0", 1)[0].decode() if isinstance(props.name, bytes) else str(props.name)
    return {
        "tensorrt_version": trt.__version__,
        "gpu_name": name,
        "compute_capability": f"{props.major}.{props.minor}",
        "plugin_sha256": sha256_of(plugins) if plugins is not None else None,
    }
