"""`vfi build`: a TensorRT engine from an exported ONNX file (DESIGN.md §5).

The network is strongly typed on TensorRT 10 and 11 alike: precision comes from the ONNX file
(fp32, the fp16 variant, or the INT8 variant's Q/DQ), never from builder flags. On TensorRT 10,
Polygraphy's `strongly_typed=True` creates the network with
`NetworkDefinitionCreationFlag.STRONGLY_TYPED`; TensorRT 11 networks are always strongly typed (the
flag is deprecated there and ignored), so the same call serves both. TF32, on by default in
TensorRT, is turned off (Polygraphy's CreateConfig(tf32=False)), so an fp32 engine computes in
fp32. With the vfi plugin library (the default; built on demand by
`vfi.plugins.native`, or given with --plugins) the `vfi::` local functions are removed and the
nodes become our plugins; with --no-plugins, or when the library cannot be had here, every
`vfi::` node is replaced by its standard-op body (vfi.export.graph). The optimisation profile is
over height and width: from the model card (`vfi.model` in the file's metadata) or --min/--opt/
--max. Tactic timings persist in a timing cache shared by the builds of one TensorRT version on one
GPU model (default_timing_cache). Polygraphy's loaders parse, configure and build. The plugin
library is loaded through the runtime's once-per-process helper, which first checks its CUDA major
against TensorRT's and the driver's (vfi.plugins.tensorrt_loading.load_plugin_library). Next to the
engine goes its sidecar (vfi.export.engine_sidecar) holding the cache key; an engine whose sidecar
already matches the key is not rebuilt.

Every decision of a build is taken once, into a BuildSettings: build_engine applies it through
Polygraphy, and `vfi build --print-trtexec` spells the same settings as a trtexec command line
(writing the prepared graph beside the engine), so the two cannot drift apart.

Everything but the build itself (graph preparation, profile, cache key, the trtexec command) is
plain Python.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vfi.errors import VfiError
from vfi.export.artifact import ArtifactInfo
from vfi.fileio import write_atomically
from vfi.plugins.tensorrt_loading import TRT_INSTALL

if TYPE_CHECKING:
    import onnx

SPATIAL_AXES = (2, 3)  # the dynamic axes of the frame inputs: height, width
TRTEXEC_ONNX_SUFFIX = ".trtexec.onnx"  # ENGINE + this: the prepared graph --print-trtexec writes


class EngineBuildError(VfiError):
    pass


# -- plain Python: profile, graph preparation, cache key ------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """"HxW" (e.g. 720x1280) as (height, width)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise EngineBuildError(f"size {text!r} is not HxW (e.g. 720x1280)") from None
    if height < 1 or width < 1:
        raise EngineBuildError(f"size {text!r} must be positive")
    return height, width


def derive_profile(metadata: dict[str, str], min_size=None, opt_size=None, max_size=None) -> dict[str, list[int]]:
    """The optimisation profile {"min", "opt", "max": [H, W]}: each size given, else the model
    card's (found through the file's `vfi.model`), checked to be ordered and at least the model's
    minimum size."""
    from vfi.models import MODELS

    info = ArtifactInfo.from_metadata(metadata)
    card = MODELS.get(info.model or "")
    given = {"min": min_size, "opt": opt_size, "max": max_size}
    if any(size is None for size in given.values()) and card is None:
        raise EngineBuildError(
            f"no model card for {info.model or 'this model'!r} to take the profile from; "
            "give all of --min, --opt and --max"
        )
    defaults = dict(zip(("min", "opt", "max"), card.profile)) if card is not None else {}
    profile = {key: list(given[key] or defaults[key]) for key in ("min", "opt", "max")}
    for axis, name in enumerate(("height", "width")):
        low, opt, high = (profile[key][axis] for key in ("min", "opt", "max"))
        if not low <= opt <= high:
            raise EngineBuildError(f"profile {name}s must satisfy min <= opt <= max, got {low}, {opt}, {high}")
    smallest = info.min_size
    if min(profile["min"]) < smallest:
        raise EngineBuildError(f"the profile's minimum {profile['min'][0]}x{profile['min'][1]} is below the model's minimum size {smallest}")
    return profile


def input_shapes(model, profile: dict[str, list[int]]) -> dict[str, tuple[tuple[int, ...], ...]]:
    """(min, opt, max) shape of every graph input: fixed dimensions as they are, dynamic height
    and width from `profile`."""
    shapes = {}
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        per_key = []
        for key in ("min", "opt", "max"):
            shape = []
            for axis, dim in enumerate(dims):
                if dim.HasField("dim_value"):
                    shape.append(dim.dim_value)
                elif axis in SPATIAL_AXES and len(dims) == 4:
                    shape.append(profile[key][SPATIAL_AXES.index(axis)])
                else:
                    raise EngineBuildError(
                        f"input {value.name} has a dynamic dimension {axis} ({dim.dim_param or '?'}); "
                        "engines are built over height and width only"
                    )
            per_key.append(tuple(shape))
        shapes[value.name] = tuple(per_key)
    return shapes


def cache_key(onnx_path: Path, metadata: dict[str, str], profile: dict, environment: dict) -> dict:
    """The sidecar content but the engine's own SHA-256: what the engine was built from and for.
    `environment` holds the values of engine_sidecar.ENVIRONMENT_KEYS for this machine."""
    import vfi
    from vfi.fileio import sha256_of

    info = ArtifactInfo.from_metadata(metadata)
    return {
        "onnx_sha256": sha256_of(onnx_path),
        "onnx_path": str(onnx_path),
        "model": info.model,
        "checkpoint_sha256": info.checkpoint_sha256,
        "precision": info.precision.value,
        "quantizer": info.quantizer,
        "profile": profile,
        **environment,
        "vfi_version": vfi.__version__,
    }


def is_up_to_date(engine: Path, key: dict) -> bool:
    """Whether `engine` exists, is the file its sidecar describes, and was built with `key`."""
    from vfi.export.engine_sidecar import EngineSidecarError, read_sidecar

    if not engine.is_file():
        return False
    try:
        sidecar = read_sidecar(engine)
    except EngineSidecarError:
        return False
    return all(sidecar.get(name) == value for name, value in key.items())


def load_onnx(path: Path):
    import onnx

    if not path.is_file():
        raise EngineBuildError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model)
    except Exception as exc:  # DecodeError, ValidationError, …
        raise EngineBuildError(f"{path}: not a valid ONNX model ({str(exc).strip().splitlines()[0]})") from exc
    return model


def default_timing_cache(environment: dict) -> Path:
    """The timing cache of builds with this TensorRT version on this GPU model (`environment` as
    machine_environment). One file per device: Polygraphy merges the loaded cache into the saved
    one, and TensorRT warns that timings combined from different devices can cause functional
    bugs."""
    from vfi.plugins.native import cache_root

    parts = (f"trt{environment['tensorrt_version']}", environment["gpu_name"], f"sm{environment['compute_capability']}")
    return cache_root() / "tensorrt" / f"timing-{'-'.join(_slug(part) for part in parts)}.cache"


def _slug(text: str) -> str:
    """`text` as a file-name part: lower case, runs of anything but letters, digits and dots as "-"."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "unknown"


@dataclass(frozen=True)
class BuildSettings:
    """Every decision of one engine build, taken once (build_settings): build_engine applies them
    through Polygraphy and trtexec_command spells them for trtexec."""

    network: onnx.ModelProto  # the graph TensorRT parses: for_plugins or without_custom_ops of the file
    engine: Path
    shapes: dict[str, tuple[tuple[int, ...], ...]]  # input -> its (min, opt, max) profile shape
    plugins: Path | None  # the plugin library TensorRT loads before parsing
    timing_cache: Path | None  # None only where its default cannot be named: no TensorRT or GPU here
    # Precision comes from the file (fp32, fp16 or Q/DQ), never from builder flags, and fp32 layers
    # compute in fp32.
    strongly_typed: bool = True
    tf32: bool = False


def build_settings(model, engine: Path, profile: dict, plugins: Path | None, timing_cache: Path | None) -> BuildSettings:
    """The settings that build `engine` from the loaded ONNX `model`: its graph prepared for the
    plugin library `plugins` (or without plugins when None) and the profile's shape of every input."""
    from vfi.export.graph import for_plugins, without_custom_ops

    network = for_plugins(model) if plugins is not None else without_custom_ops(model)
    return BuildSettings(network, engine, input_shapes(network, profile), plugins, timing_cache)


def choose_plugins(model, use_plugins: bool, plugins: Path | None) -> Path | None:
    """The plugin library of the build: none with --no-plugins; the one given; else, for a model
    with vfi:: nodes, the one vfi builds, or none (said on stderr) where it cannot be had here."""
    from vfi.plugins.onnx_model import custom_nodes

    if not use_plugins:
        return None
    if plugins is not None:
        if not plugins.is_file():
            raise EngineBuildError(f"{plugins}: no such TensorRT plugin library")
        return plugins
    if not any(True for _ in custom_nodes(model.graph)):
        return None
    plugins, why = plugin_library()
    if plugins is None:
        print(f"vfi build: the vfi plugin library is not available ({why}); building with the ops' "
              "standard-op bodies instead (as --no-plugins)", file=sys.stderr)
    return plugins


def trtexec_onnx_path(engine: Path) -> Path:
    return engine.with_name(engine.name + TRTEXEC_ONNX_SUFFIX)


def trtexec_command(settings: BuildSettings, network_file: Path) -> list[str]:
    """The trtexec arguments that build `settings.engine` as build_engine does, from the prepared
    graph saved as `network_file` (options of trtexec in TensorRT 10 and 11: samples/common/
    sampleOptions.cpp of NVIDIA/TensorRT)."""
    for name in settings.shapes:
        if "," in name:  # trtexec splits a shape list at commas and has no escape for them
            raise EngineBuildError(f"input {name!r} has a comma in its name, which trtexec's --minShapes cannot carry")
    command = ["trtexec", f"--onnx={network_file}", f"--saveEngine={settings.engine}"]
    for option, index in (("--minShapes", 0), ("--optShapes", 1), ("--maxShapes", 2)):
        spec = ",".join(f"{name}:{'x'.join(str(d) for d in shapes[index])}" for name, shapes in settings.shapes.items())
        command.append(f"{option}={spec}")
    # TensorRT 11's trtexec takes --stronglyTyped as a deprecated no-op (its networks always are).
    if settings.strongly_typed:
        command.append("--stronglyTyped")
    if not settings.tf32:  # TF32 is on by default in TensorRT and in trtexec
        command.append("--noTF32")
    if settings.timing_cache is not None:
        command.append(f"--timingCacheFile={settings.timing_cache}")
    if settings.plugins is not None:
        # loadLibrary, as build_engine loads it (IPluginRegistry::loadLibrary); not serialised into the engine.
        command.append(f"--dynamicPlugins={settings.plugins}")
    command.append("--skipInference")  # vfi build builds; it does not benchmark
    return command


# -- TensorRT -------------------------------------------------------------------------------------


def import_tensorrt():
    """`tensorrt`, or one clear line saying what is missing and how to install it."""
    try:
        import tensorrt
    except ImportError as exc:
        raise EngineBuildError(f"TensorRT is not available here ({exc}); install it with {TRT_INSTALL}") from None
    try:
        import polygraphy  # noqa: F401
    except ImportError:
        raise EngineBuildError(f"Polygraphy is not installed; install it with {TRT_INSTALL}") from None
    return tensorrt


def plugin_library() -> tuple[Path | None, str]:
    """The vfi TensorRT plugin library (built on demand), or None and why it cannot be had here."""
    try:
        from vfi.plugins import native
    except ImportError as exc:
        return None, f"vfi.plugins.native is not available ({exc})"
    try:
        return native.library_path("trt"), "built by vfi.plugins.native"
    except native.NativeError as exc:
        return None, str(exc).splitlines()[0]


def machine_environment(trt, plugins: Path | None) -> dict:
    """This machine's values of the sidecar's environment keys, exactly as the runtime computes
    them before loading an engine."""
    from vfi.export.engine_sidecar import sidecar_environment
    from vfi.plugins.tensorrt_loading import Cuda, import_cudart

    return sidecar_environment(Cuda(import_cudart()), trt, plugins)


def build_engine(trt, settings: BuildSettings) -> bytes:
    """The serialized engine of `settings` (one profile)."""
    from polygraphy.backend.trt import CreateConfig, EngineBytesFromNetwork, NetworkFromOnnxBytes, Profile
    from polygraphy.exception import PolygraphyException

    if settings.plugins is not None:
        from vfi.plugins.tensorrt_loading import Cuda, import_cudart, load_plugin_library

        load_plugin_library(trt, settings.plugins, Cuda(import_cudart()))
    profile = Profile()
    for name, (low, opt, high) in settings.shapes.items():
        profile.add(name, min=low, opt=opt, max=high)
    cache = settings.timing_cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    config = CreateConfig(tf32=settings.tf32, profiles=[profile], load_timing_cache=str(cache) if cache.is_file() else None)
    network = NetworkFromOnnxBytes(settings.network.SerializeToString(), strongly_typed=settings.strongly_typed)
    try:
        return bytes(EngineBytesFromNetwork(network, config, save_timing_cache=str(cache))())
    except PolygraphyException as exc:
        raise EngineBuildError(f"TensorRT could not build the engine ({str(exc).strip().splitlines()[-1]}); see its log above") from exc


def build(onnx_path: Path, engine_path: Path, *, min_size=None, opt_size=None, max_size=None,
          use_plugins: bool = True, plugins: Path | None = None, timing_cache: Path | None = None,
          force: bool = False) -> dict:
    """Build `engine_path` from `onnx_path` unless it is up to date; returns its sidecar key."""
    from vfi.export.engine_sidecar import write_sidecar
    from vfi.export.graph import metadata

    trt = import_tensorrt()
    model = load_onnx(onnx_path)
    meta = metadata(model)
    profile = derive_profile(meta, min_size, opt_size, max_size)
    plugins = choose_plugins(model, use_plugins, plugins)
    environment = machine_environment(trt, plugins)
    key = cache_key(onnx_path, meta, profile, environment)
    if not force and is_up_to_date(engine_path, key):
        print(f"{engine_path} is up to date")
        return key
    settings = build_settings(model, engine_path, profile, plugins, timing_cache or default_timing_cache(environment))
    write_atomically(engine_path, build_engine(trt, settings))
    write_sidecar(engine_path, key)
    return key


def trtexec_script(onnx_path: Path, engine_path: Path, *, min_size=None, opt_size=None, max_size=None,
                  use_plugins: bool = True, plugins: Path | None = None, timing_cache: Path | None = None) -> str:
    """The trtexec command (after comment lines: a shell script) that builds the engine `build`
    would, from the same settings; writes the prepared graph it reads and builds no engine, so it
    needs no TensorRT (the plugin library is built on demand, as for `build`)."""
    from vfi.export.graph import metadata

    model = load_onnx(onnx_path)
    profile = derive_profile(metadata(model), min_size, opt_size, max_size)
    plugins = choose_plugins(model, use_plugins, plugins)
    why_no_cache = None
    if timing_cache is None:
        try:
            timing_cache = default_timing_cache(machine_environment(import_tensorrt(), plugins))
        except VfiError as exc:
            why_no_cache = str(exc).split(";")[0]  # what is missing; the rest says how to install it
    settings = build_settings(model, engine_path, profile, plugins, timing_cache)
    network_file = write_atomically(trtexec_onnx_path(engine_path), settings.network.SerializeToString())
    graph = (f"its vfi:: local functions removed, so that TensorRT makes each vfi:: node a plugin of {plugins}"
             if plugins is not None else "every vfi:: node replaced by its standard-op body (no plugin library)")
    lines = [
        "# trtexec of TensorRT 10 or 11 (on 11, --stronglyTyped is a no-op: every network is strongly typed).",
        f"# {network_file}: {onnx_path} as vfi build hands it to TensorRT, {graph}.",
    ]
    if why_no_cache is not None:
        lines.append(f"# No --timingCacheFile: vfi's default one is per TensorRT version and GPU model, which cannot be "
                     f"read here ({why_no_cache}); pass --timing-cache FILE to name one.")
    lines.append(shlex.join(trtexec_command(settings, network_file)))
    return "\n".join(lines)


# -- command --------------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("onnx", type=Path, help="ONNX file from `vfi export` (any precision)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="engine file to write; its sidecar is OUTPUT.json")
    for key in ("min", "opt", "max"):
        parser.add_argument(f"--{key}", metavar="HxW", help=f"{key} frame size of the profile (default: the model card's)")
    plugins = parser.add_mutually_exclusive_group()
    plugins.add_argument("--plugins", type=Path, help="TensorRT plugin library (default: built on demand by vfi)")
    plugins.add_argument("--no-plugins", action="store_true", help="inline the ops' standard-op bodies instead of plugins")
    parser.add_argument("--timing-cache", type=Path, help="timing cache file (default: in vfi's cache folder)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the engine is up to date")
    parser.add_argument(
        "--print-trtexec", action="store_true",
        help=f"build no engine: print the trtexec command (TensorRT 10 or 11) that builds the same engine — the graph as "
             f"this builder prepares it, written to OUTPUT{TRTEXEC_ONNX_SUFFIX}, the same profile, timing cache and "
             "plugin library, strongly typed (--stronglyTyped, a no-op on TensorRT 11), TF32 off (--noTF32); needs no TensorRT",
    )


def run(args) -> int:
    sizes = {f"{key}_size": parse_size(getattr(args, key)) if getattr(args, key) else None for key in ("min", "opt", "max")}
    options = dict(**sizes, use_plugins=not args.no_plugins, plugins=args.plugins, timing_cache=args.timing_cache)
    if args.print_trtexec:
        print(trtexec_script(args.onnx, args.output, **options))
        return 0
    key = build(args.onnx, args.output, **options, force=args.force)
    profile = key["profile"]
    print(
        f"{args.output}: {key['precision']} engine, TensorRT {key['tensorrt_version']} on {key['gpu_name']} "
        f"(sm {key['compute_capability']}), {'with the vfi plugins' if key['plugin_sha256'] else 'without plugins'}, "
        f"profile {'/'.join(f'{h}x{w}' for h, w in (profile['min'], profile['opt'], profile['max']))}"
    )
    return 0
