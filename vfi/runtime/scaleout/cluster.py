"""Chunks interpolated by a pool of Ray actors, each holding one Interpolator (one backend
instance): on a GPU cluster one actor per GPU, on CPUs the cores divided among them. A chunk whose
worker dies (its process killed, the machine lost) runs again on another worker, which replaces the
dead one; a chunk that fails for its input fails the job with that error."""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from vfi.errors import VfiError
from vfi.runtime.progress import Progress
from vfi.runtime.scaleout.chunk import ChunkJob, ChunkResult, interpolate_chunk
from vfi.runtime.scaleout.plan import Chunk
from vfi.runtime.video.summary import VideoSummary

MAX_ATTEMPTS = 3  # runs of one chunk whose worker died before the job gives up
IN_FLIGHT_PER_WORKER = 2  # chunks queued on a worker, so it starts the next while the driver encodes
_POLL_S = 0.25
START_TIMEOUT_S = 900  # a worker's model load, and on a cold cache its ONNX export
RAY_MISSING = "--ray needs Ray: pip install 'vfi[ray]'"


def import_ray():
    try:
        import ray
    except ImportError:
        raise VfiError(RAY_MISSING) from None
    return ray


class ChunkWorker:
    """A Ray actor: one Interpolator, built by start(), and the chunks it is given."""

    def __init__(self, interpolator_options: dict, tracker):
        self.options, self.tracker, self.interpolator = interpolator_options, tracker, None

    def start(self) -> dict:
        from vfi.runtime.interpolator import Interpolator

        self.interpolator = Interpolator(**self.options)
        return {"pid": os.getpid(), "node": socket.gethostname(), "model": self.interpolator.describe(),
                "path": self.interpolator.path}

    def run(self, job: ChunkJob, chunk: Chunk) -> ChunkResult:
        def report(frames: int) -> None:
            self.tracker.report.remote(chunk.index, frames)

        return interpolate_chunk(self.interpolator, job, chunk, report)


class ProgressTracker:
    """A Ray actor: the output frames each chunk has done (a rerun chunk starts again from zero)."""

    def __init__(self):
        self.frames: dict[int, int] = {}

    def report(self, chunk: int, frames: int) -> None:
        self.frames[chunk] = frames

    def snapshot(self) -> dict[int, int]:
        return dict(self.frames)

    def reset(self) -> None:
        self.frames = {}


@dataclass
class _Worker:
    handle: object
    pid: int = 0
    node: str = ""
    chunks: int = 0
    frames: int = 0  # output frames of the chunks it finished
    inferences: int = 0
    busy_s: float = 0.0
    died: bool = False
    running: list[Chunk] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.node}:{self.pid}"


class RayRunner:
    """Ray actors interpolating chunks (vfi.runtime.scaleout.driver.ChunkRunner). `address`: a
    cluster to join ("auto" for the one this machine belongs to); None starts a local one.
    `on_progress(done, running)` is called as frames are done: `running` maps each busy worker's
    process id to the chunk it runs and the frames it has done in it."""

    def __init__(self, interpolator_options: dict, *, address: str | None = None, workers: int | None = None,
                 progress: bool = False, on_progress: Callable[[int, dict[int, tuple[int, int]]], None] | None = None):
        self.ray = import_ray()
        if workers is not None and workers < 1:
            raise VfiError(f"--workers must be at least 1, got {workers}")
        self.options, self.address, self.requested = dict(interpolator_options), address, workers
        self.progress, self.on_progress = progress, on_progress
        self.workers: list[_Worker] = []
        self.retried = 0
        self.owns_ray = False

    # -- the pool -------------------------------------------------------------------------------

    def __enter__(self) -> RayRunner:
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            self.owns_ray = True
        try:
            self._size_pool()
            self.tracker = ray.remote(ProgressTracker).options(num_cpus=0).remote()
            # The first worker starts alone: on a machine whose export cache is cold it exports the
            # model once, and the others find it cached.
            self.model, self.path = self._add_worker()
            for _ in range(self.size - 1):
                self._add_worker()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for worker in self.workers:
            self.ray.kill(worker.handle)
        if self.owns_ray:
            self.ray.shutdown()

    def _size_pool(self) -> None:
        """How many workers, and what each one asks of the cluster: a GPU each where the cluster
        has GPUs (unless --device cpu), else a share of the CPUs, which each worker divides into
        streams and threads as one process divides its cores (vfi.runtime.choice)."""
        resources = self.ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        if gpus and self.options.get("device") != "cpu":
            self.size = self.requested or gpus
            if self.size > gpus:
                raise VfiError(f"--workers {self.size}: the Ray cluster has {gpus} GPU(s), one per worker")
            self.resources = {"num_gpus": 1, "num_cpus": 1}
            return
        self.size = self.requested or cpus
        threads = self.options.get("threads")
        # What Ray reserves per worker: its threads where they all fit, else an equal share, so
        # that every worker can be placed (Ray takes fractions below one CPU, whole numbers above).
        if threads is not None and threads * self.size <= cpus:
            share = threads
        else:
            share = max(1, cpus // self.size) if self.size <= cpus else cpus / self.size
        if threads is None:  # the worker divides its share into streams and threads as one process would
            self.options["cores"] = max(1, int(share))
        self.resources = {"num_cpus": share}

    def _add_worker(self) -> tuple[str, str]:
        actor = self.ray.remote(ChunkWorker).options(max_restarts=0, **self.resources)
        worker = _Worker(actor.remote(self.options, self.tracker))
        try:
            facts = self.ray.get(worker.handle.start.remote(), timeout=START_TIMEOUT_S)
        except self.ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None
        except self.ray.exceptions.GetTimeoutError:
            raise VfiError(f"a Ray worker did not start within {START_TIMEOUT_S} s: does the cluster have "
                           f"{self.resources} free for each of {self.size} workers?") from None
        worker.pid, worker.node = facts["pid"], facts["node"]
        self.workers.append(worker)
        return facts["model"], facts["path"]

    # -- the chunks -----------------------------------------------------------------------------

    def run(self, job: ChunkJob, plan: list[Chunk], expected: int | None) -> Iterator[tuple[Chunk, ChunkResult]]:
        """Every chunk's result in order (vfi.runtime.scaleout.driver.ChunkRunner.run); the counts
        that report() adds to the summary start again for each video."""
        ray = self.ray
        self.workers = [_Worker(w.handle, w.pid, w.node) for w in self.workers if not w.died]
        self.retried = 0
        ray.get(self.tracker.reset.remote())
        waiting, in_flight, results = deque(plan), {}, {}
        attempts = {chunk.index: 0 for chunk in plan}
        finished: dict[int, int] = {}  # output frames of the chunks done
        next_index = 0
        with Progress(expected, enabled=self.progress) as meter:
            while next_index < len(plan):
                for worker in self.workers:
                    while not worker.died and waiting and len(worker.running) < IN_FLIGHT_PER_WORKER:
                        chunk = waiting.popleft()
                        attempts[chunk.index] += 1
                        worker.running.append(chunk)
                        in_flight[worker.handle.run.remote(job, chunk)] = (chunk, worker)
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=_POLL_S)
                for ref in done:
                    chunk, worker = in_flight.pop(ref)
                    worker.running.remove(chunk)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayActorError:
                        self._lost(worker, chunk, attempts, waiting)
                        continue
                    except ray.exceptions.RayTaskError as exc:
                        raise _cause(exc) from None
                    worker.chunks += 1
                    worker.frames += result.counts["expected"]
                    worker.inferences += result.counts["inferences"]
                    worker.busy_s += result.elapsed_s
                    results[chunk.index] = result
                    finished[chunk.index] = result.counts["expected"]
                self._show(meter, finished)
                while next_index in results:
                    yield plan[next_index], results.pop(next_index)
                    next_index += 1

    def _lost(self, worker: _Worker, chunk: Chunk, attempts: dict[int, int], waiting: deque) -> None:
        """`worker` died running `chunk`: the chunk goes back to the front of the queue, and a new
        worker takes the dead one's place."""
        if attempts[chunk.index] >= MAX_ATTEMPTS:
            raise VfiError(f"chunk {chunk.index} of the video: its worker died {MAX_ATTEMPTS} times; giving up")
        self.retried += 1
        waiting.appendleft(chunk)
        if not worker.died:
            worker.died = True
            self._add_worker()

    def _show(self, meter: Progress, finished: dict[int, int]) -> None:
        frames = {**self.ray.get(self.tracker.snapshot.remote()), **finished}  # reports may lag the results
        meter.update(sum(frames.values()))
        if self.on_progress is not None:
            running = {w.pid: (w.running[0].index, frames.get(w.running[0].index, 0))
                       for w in self.workers if w.running and not w.died}
            self.on_progress(sum(frames.values()), running)

    def report(self, summary: VideoSummary) -> None:
        summary.retried_chunks = self.retried
        summary.workers = [
            {"worker": w.name, "pid": w.pid, "node": w.node, "chunks": w.chunks, "frames": w.frames,
             "inferences": w.inferences, "busy_s": round(w.busy_s, 3), "died": w.died}
            for w in self.workers
        ]


def _cause(exc) -> BaseException:
    """The exception a Ray task raised, without Ray's wrapper (whose message holds the traceback)."""
    return exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
