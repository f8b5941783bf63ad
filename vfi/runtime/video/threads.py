"""The pipeline's threads: bounded queues that stop every stage when one fails, and Ctrl-C/SIGTERM
handling."""

from __future__ import annotations

import queue
import signal
import sys
import threading

from vfi.errors import VfiError

_POLL_S = 0.1


class Stopped(Exception):
    """Raised in a stage when another stage failed or the run was aborted."""


class Pipeline:
    def __init__(self):
        self.abort = threading.Event()  # every stage stops now
        self.stop_reading = threading.Event()  # the decoder stops (Ctrl-C with keep_partial)
        self.failure: tuple[str, BaseException] | None = None

    def fail(self, stage: str, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = (stage, exc)
        self.abort.set()

    def put(self, q: queue.Queue, item) -> None:
        while not self.abort.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                pass
        raise Stopped

    def get(self, q: queue.Queue):
        while not self.abort.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                pass
        raise Stopped

    def thread(self, stage: str, target, *args) -> threading.Thread:
        def run():
            try:
                target(*args)
            except Stopped:
                pass
            except BaseException as exc:
                self.fail(stage, exc)

        thread = threading.Thread(target=run, name=f"vfi-{stage}", daemon=True)
        thread.start()
        return thread

    def join(self, thread: threading.Thread | None) -> None:
        while thread is not None and thread.is_alive():
            thread.join(_POLL_S)  # in slices, so Ctrl-C reaches the main thread

    def raise_failure(self, context: str) -> None:
        if self.failure is not None:
            stage, exc = self.failure
            if not isinstance(exc, VfiError):
                exc.add_note(f"vfi interpolate: in the {stage} stage; {context}")
            raise exc


class Interrupts:
    """Ctrl-C (SIGINT) or SIGTERM: with keep_partial, the first one asks for a shorter file and
    the second aborts; without, the first aborts."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, keep_partial: bool, pipeline: Pipeline):
        self.keep_partial, self.pipeline, self.count = keep_partial, pipeline, 0
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        self.count += 1
        if self.keep_partial and self.count == 1:
            print("\nvfi: finishing the current frames and writing a shorter file; Ctrl-C again aborts", file=sys.stderr)
            self.pipeline.stop_reading.set()
            return
        raise KeyboardInterrupt
