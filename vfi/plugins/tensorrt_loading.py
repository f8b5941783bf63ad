"""Loading our plugin library into TensorRT, and the cuda-python wrapper every TensorRT caller uses
(the engine builder, the trt backend, `vfi info`, the plugin self-test): a leaf below all of them.

The plugin library is loaded once per process (`load_plugin_library`): TensorRT refuses a second
`load_library` of the same creators, so two engines, or a build and a run, in one process share the
first handle. Before the first load the CUDA majors are compared: the nvcc that compiled the
library, the CUDA the installed TensorRT wheel is built for and the driver's must agree
(`cuda_major_mismatch`), since the library carries its own static CUDA runtime.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from vfi.errors import VfiError
from vfi.fileio import sha256_of

# One extra per CUDA major (pyproject.toml): TensorRT, cuda-python and the plugin library's nvcc
# must all be of the CUDA major the driver supports (nvidia-smi shows it).
TRT_INSTALL = (
    "pip install 'vfi[trt-cu12]' or 'vfi[trt-cu13]' (TensorRT 10 or 11, Polygraphy and cuda-python for the CUDA major "
    "of your NVIDIA driver, as nvidia-smi shows it) on a machine with an NVIDIA GPU"
)


class TensorRTSetupError(VfiError):
    """CUDA, TensorRT or the plugin library cannot be used together here."""


def import_cudart():
    """cuda-python's runtime bindings (`cuda.bindings.runtime`, or `cuda.cudart` before 12.6)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError as exc:
            raise TensorRTSetupError(f"TensorRT's runs here need cuda-python, which cannot be imported ({exc}); {TRT_INSTALL}") from exc
    return cudart


class Cuda:
    """cuda-python calls return (error, *results); this raises on an error and unwraps."""

    def __init__(self, cudart):
        self.rt = cudart

    def __call__(self, result):
        error, *values = result if isinstance(result, tuple) else (result,)
        if int(getattr(error, "value", error)) != 0:
            name = self.rt.cudaGetErrorName(error)[1]
            raise TensorRTSetupError(f"CUDA error {name.decode() if isinstance(name, bytes) else name}")
        return values[0] if len(values) == 1 else (values or None)


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


def load_plugin_library(trt, library: str | Path, cuda: Cuda):
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
            raise TensorRTSetupError(
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
        raise TensorRTSetupError(mismatch)
    handle = trt.get_plugin_registry().load_library(str(path))
    if not handle:
        loaded = ", ".join(str(p) for p in _LOADED_PLUGIN_LIBRARIES)
        raise TensorRTSetupError(
            f"{path}: TensorRT could not load this plugin library (see its log above)"
            + (f"; this process already loaded {loaded}, whose creators TensorRT will not register twice" if loaded else "")
        )
    _LOADED_PLUGIN_LIBRARIES[path] = (digest, handle)
    return handle
