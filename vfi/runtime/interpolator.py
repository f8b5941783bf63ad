"""`Interpolator`: a backend plus the policy for which frames it computes.

Timesteps and scene cuts: vfi.runtime.timesteps decides which frames are computed.

Path: whatever backend, device, threads, streams and batch size the caller leaves open is chosen
for this machine by vfi.runtime.choice (on a CPU, a registered model runs from its cached ONNX
export in ONNX Runtime, one stream per core); `Interpolator.path` says what was chosen and why.

Frame sizes: the models pad to their own multiples internally; frames smaller than a backend's
minimum size are edge-padded here and cropped back, so the output has the input's size.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from vfi.errors import VfiError
from vfi.frames.images import to_integer
from vfi.runtime.backends import Backend, open_backend
from vfi.runtime.backends.configs import check_threads
from vfi.runtime.choice import choose_path
from vfi.runtime.timesteps import MAX_BISECTION_DEPTH, Request, nearest_dyadic

DEFAULT_MODEL = "classic"  # the weight-free default model
DEFAULT_BATCH_SIZE = 4
DEFAULT_SCENE_THRESHOLD = 0.10


class NonFiniteOutputError(VfiError):
    pass


class Interpolator:
    """Frame interpolation with one model on one backend:

        interp = vfi.Interpolator()                         # classic, on the fastest path here
        interp = vfi.Interpolator(model="adacof_net")       # or onnx=…, engine=…; backend=…
        middle = interp.interpolate(frame0, frame1, t=0.5)  # HxWx3 uint8 (or uint16) RGB arrays
        summary = interp.process_video("in.mp4", "out.mp4", factor=2)
    """

    def __init__(
        self,
        model: str | None = None,
        backend: str | None = None,
        *,
        weights: str | Path | None = None,
        onnx: str | Path | None = None,
        engine: str | Path | None = None,
        device: str | None = None,
        dtype: str = "fp32",
        provider: str | None = None,
        plugins: str | Path | None = None,
        threads: int | None = None,
        streams: int | None = None,
        batch_size: int | None = None,
        scene_threshold: float | None = DEFAULT_SCENE_THRESHOLD,
        seed: int = 0,
        cores: int | None = None,  # CPU cores the run may use (default: those this process may run on)
        precision: str | None = None,  # the former name of dtype
    ):
        if model is None and onnx is None and engine is None:
            model = DEFAULT_MODEL
        if batch_size is not None and batch_size < 1:
            raise VfiError(f"--batch-size must be at least 1, got {batch_size}")
        check_threads(threads)  # before choose_path, which may export the model first
        if scene_threshold is not None and not 0 < scene_threshold <= 1:
            raise VfiError(f"--scene-threshold (the scene-cut threshold) must be in (0, 1], got {scene_threshold}")
        path = choose_path(
            model=model, onnx=onnx, engine=engine, backend=backend, device=device, dtype=precision or dtype,
            provider=provider, plugins=plugins, threads=threads, streams=streams, batch_size=batch_size,
            weights=weights, seed=seed, default_batch_size=DEFAULT_BATCH_SIZE, cores=cores,
        )
        self.batch_size, self.scene_threshold = path.batch_size, scene_threshold
        self.path = path.reason  # the backend, device and threads chosen, and why
        self.backend: Backend = open_backend(path.config)
        self.backend.activate()
        self.inferences = 0  # model evaluations (frames), for reports

    @property
    def arbitrary_t(self) -> bool:
        return self.backend.arbitrary_t

    def describe(self) -> str:
        return self.backend.describe()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Interpolator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- single pairs -------------------------------------------------------------------------

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5) -> np.ndarray:
        """The frame at time t in (0, 1) between two HxWx3 RGB frames (uint8 or uint16, same
        shape and dtype), in their dtype. Midpoint-only models use the nearest step reachable by
        bisection within MAX_BISECTION_DEPTH levels (see the module docstring)."""
        frame0, frame1 = np.asarray(frame0), np.asarray(frame1)
        if frame0.shape != frame1.shape or frame0.dtype != frame1.dtype:
            raise VfiError(f"frames differ: {frame0.shape} {frame0.dtype} and {frame1.shape} {frame1.dtype}")
        if frame0.ndim != 3 or frame0.shape[2] != 3 or frame0.dtype not in (np.uint8, np.uint16):
            raise VfiError(f"expected HxWx3 uint8 or uint16 RGB frames, got {frame0.shape} {frame0.dtype}")
        scale = np.iinfo(frame0.dtype).max
        f0, f1 = (np.ascontiguousarray(f.transpose(2, 0, 1), np.float32) / scale for f in (frame0, frame1))
        (output,) = self.interpolate_float(f0, f1, t)
        return to_integer(output, frame0.dtype).transpose(1, 2, 0)

    def interpolate_float(self, frame0: np.ndarray, frame1: np.ndarray, t: float) -> list[np.ndarray]:
        """Like `interpolate` on float32 [3, H, W] frames in [0, 1]; returns [frame]."""
        t = Fraction(t)
        if not 0 < t < 1:
            raise VfiError(f"t must be strictly between 0 and 1, got {float(t)}")
        if not self.arbitrary_t:
            t = nearest_dyadic(t, MAX_BISECTION_DEPTH)
            if t in (0, 1):
                return [(frame0 if t == 0 else frame1).copy()]
        return self.run([Request(0, frame0, frame1, t)])

    # -- batches ------------------------------------------------------------------------------

    def run(self, requests: list[Request]) -> list[np.ndarray]:
        """The output frame of every request, in order. For midpoint-only models each t must be a
        dyadic fraction (see nearest_dyadic); the midpoints it needs are computed level by level,
        each level in batches of up to batch_size."""
        if not requests:
            return []
        if self.arbitrary_t:
            return self._evaluate([(r.frame0, r.frame1, r.t) for r in requests])
        known = {}  # (pair, t) -> frame
        needed = set()

        def need(pair: int, t: Fraction) -> None:  # t and the midpoints bisection reaches it through
            if t.denominator > 1 and (pair, t) not in needed:
                needed.add((pair, t))
                need(pair, t - Fraction(1, t.denominator))
                need(pair, t + Fraction(1, t.denominator))

        for r in requests:
            if r.t.denominator & (r.t.denominator - 1):
                raise ValueError(f"bisection reaches dyadic timesteps only, not {r.t}")
            known[r.pair, Fraction(0)], known[r.pair, Fraction(1)] = r.frame0, r.frame1
            need(r.pair, r.t)
        for level in range(1, max(t.denominator for _, t in needed).bit_length()):
            nodes = sorted((pair, t) for pair, t in needed if t.denominator == 2**level)
            step = Fraction(1, 2**level)
            outputs = self._evaluate([(known[pair, t - step], known[pair, t + step], None) for pair, t in nodes])
            known.update(zip(nodes, outputs))
        return [known[r.pair, r.t] for r in requests]

    def _evaluate(self, triples: list[tuple[np.ndarray, np.ndarray, Fraction | None]]) -> list[np.ndarray]:
        outputs = []
        for start in range(0, len(triples), self.batch_size):
            chunk = triples[start : start + self.batch_size]
            frame0 = np.stack([c[0] for c in chunk])
            frame1 = np.stack([c[1] for c in chunk])
            t = np.array([float(c[2]) for c in chunk], np.float32) if self.arbitrary_t else None
            outputs.extend(self._infer(frame0, frame1, t))
        return outputs

    def _infer(self, frame0: np.ndarray, frame1: np.ndarray, t: np.ndarray | None) -> np.ndarray:
        height, width = frame0.shape[2:]
        minimum = self.backend.min_size
        pad = ((0, 0), (0, 0), (0, max(0, minimum - height)), (0, max(0, minimum - width)))
        if any(p[1] for p in pad):
            frame0, frame1 = np.pad(frame0, pad, mode="edge"), np.pad(frame1, pad, mode="edge")
        output = self.backend.infer(frame0, frame1, t)[:, :, :height, :width]
        self.inferences += len(output)
        if not np.isfinite(output).all():
            raise NonFiniteOutputError(
                f"{self.describe()} produced NaN or Inf for a {width}x{height} frame; no frame was written from it"
            )
        return output

    # -- video --------------------------------------------------------------------------------

    def process_video(self, input, output, **options):
        """Interpolate the video `input` into `output` (paths, or "-" for y4m on stdin/stdout);
        see vfi.runtime.video.process_video for the options. Returns a VideoSummary."""
        from vfi.runtime.video import process_video

        return process_video(self, input, output, **options)
