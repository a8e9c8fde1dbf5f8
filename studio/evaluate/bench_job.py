"""One benchmark at a time, in a thread, with a snapshot to poll and a cooperative Stop.

    job = BenchJob()
    job.start(lambda progress, stop: run_benchmarks(engine, run, options, None, progress, stop), run.id, owner)
    job.snapshot()      # BenchSnapshot: status, fraction, message, eta_s, result or error
    job.stop()          # ends after the batch under way; finished tasks are kept

The Evaluate tab polls the snapshot with a timer, so a reload or another tab re-attaches, as the
Train tab does with a training (studio.train.jobs.manager). Benchmarks take the chat engine's lock while a
model computes, so chat waits between batches rather than failing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from studio.evaluate.benchmarks import BenchProgress
from studio.runs.directory import ACTIVE

log = logging.getLogger(__name__)


@dataclass
class BenchSnapshot:
    status: str = "idle"  # idle, running, stopping, completed, stopped, failed
    run_id: str = ""
    owner: str | None = None
    fraction: float = 0.0
    message: str = ""
    eta_s: float | None = None
    started: float = 0.0
    error: str = ""
    result: dict | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


Work = Callable[[Callable[[BenchProgress], None], threading.Event], dict]


class BenchJob:
    def __init__(self):
        self._lock = threading.Lock()
        self._snap = BenchSnapshot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, work: Work, run_id: str, owner: str | None = None) -> None:
        with self._lock:
            if self._snap.active:
                raise ValueError(f"a benchmark of run {self._snap.run_id} is running; stop it or wait for it")
            self._stop = threading.Event()
            self._snap = BenchSnapshot("running", run_id, owner, message="starting", started=time.time())
            self._thread = threading.Thread(target=self._work, args=(work, self._stop), daemon=True, name="benchmark")
            self._thread.start()

    def _update(self, **fields) -> None:
        with self._lock:
            self._snap = replace(self._snap, **fields)

    def _progress(self, p: BenchProgress) -> None:
        status = "stopping" if self._stop.is_set() else "running"
        self._update(status=status, fraction=p.fraction, message=p.message, eta_s=p.eta_s)

    def _work(self, work: Work, stop: threading.Event) -> None:
        try:
            result = work(self._progress, stop)
        except ValueError as exc:  # a refusal: said in words, nothing to debug
            self._update(status="failed", error=str(exc), message=str(exc))
        except Exception as exc:  # the worker died: say so in the snapshot instead of leaving it "running"
            log.exception("benchmark failed")
            self._update(status="failed", error=f"{type(exc).__name__}: {exc}", message="the benchmark failed")
        else:
            self._update(status=result["status"], result=result, fraction=1.0, eta_s=0.0)

    def stop(self) -> bool:
        with self._lock:
            if not self._snap.active:
                return False
            self._stop.set()
            self._snap = replace(self._snap, status="stopping", message="stopping after the batch under way")
            return True

    def snapshot(self) -> BenchSnapshot:
        with self._lock:
            return replace(self._snap)

    def wait(self, timeout: float | None = None) -> BenchSnapshot:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.snapshot()
