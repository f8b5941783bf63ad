"""The papers' own CuPy kernels, for `vfi bench ops --device cuda` to time ours against: loaded
from the official repositories checked out in $VFI_UPSTREAM_DIR (the upstream tier's folder:
softmax-splatting, sepconv-slomo, AdaCoF-pytorch), where CuPy is installed. Nothing of theirs is
part of vfi; each kernel is called on the inputs of our op's benchmark case, in our layout (the
upstream ops take the same padded layouts)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable

# op -> (repository folder, file in it, how to call it on our op's inputs and attributes)
_KERNELS: dict[str, tuple[str, str, Callable]] = {
    "softsplat": (
        "softmax-splatting", "softsplat.py",
        lambda module, inputs, attrs: module.softsplat(inputs[0], inputs[1], inputs[2], attrs["mode"]),
    ),
    "sepconv": (
        "sepconv-slomo", "sepconv.py",
        lambda module, inputs, attrs: module.sepconv_func.apply(*inputs),
    ),
    # alpha is the vertical offset (offset_i), beta the horizontal one (offset_j).
    "adacof": (
        "AdaCoF-pytorch", "cupy_module/adacof.py",
        lambda module, inputs, attrs: module.FunctionAdaCoF.apply(*inputs, attrs["dilation"]),
    ),
}


def upstream_kernels(upstream_dir: str | None = None) -> tuple[dict[str, Callable], dict[str, str]]:
    """({op: call(inputs, attrs)}, {op: why it is not available})."""
    upstream_dir = upstream_dir or os.environ.get("VFI_UPSTREAM_DIR")
    if importlib.util.find_spec("cupy") is None:
        return {}, {op: "CuPy is not installed" for op in _KERNELS}
    if not upstream_dir:
        return {}, {op: "VFI_UPSTREAM_DIR is not set" for op in _KERNELS}
    kernels, missing = {}, {}
    for op, (repository, file, call) in _KERNELS.items():
        path = Path(upstream_dir) / repository / file
        if not path.is_file():
            missing[op] = f"{path} does not exist"
            continue
        # Their modules import siblings from their own folder.
        sys.path.insert(0, str(path.parent))
        try:
            spec = importlib.util.spec_from_file_location(f"vfi_upstream_{op}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as error:  # their import-time code is not ours: report it, keep benchmarking
            missing[op] = f"{path}: {type(error).__name__}: {error}"
            continue
        finally:
            sys.path.remove(str(path.parent))
        kernels[op] = lambda inputs, attrs, module=module, call=call: call(module, inputs, attrs)
    return kernels, missing
