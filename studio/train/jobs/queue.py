"""The training queue: one job trains, later Starts wait their turn, first in first out.

    queue = TrainingQueue(JobManager(root), root)
    ticket = queue.submit(config, "alice")          # trains now (position 0) or waits (position 1: next)
    queue.submit(None, "alice", resume=run.path)    # a resume queues the same way
    queue.position(ticket.run.id)                    # 0 training, 1.. waiting, None neither
    queue.cancel(ticket.run.id, "alice")             # a waiting Start goes; a waiting resume goes back
    queue.cancel_last("alice")                       # Stop with none of hers training: her last waiting run
    queue.restore()                                  # after a restart: runs recorded as queued wait again

A Start that has to wait is planned at once (config and data checked, so a mistake is named while
its author is there), then its run directory is created with the status "queued" and the time it
joined. A dispatcher thread waits for the running job to end, however it ends, and starts the
oldest waiting run. The queue is written in the run directories, so a restarted app restores it
in the same order. Each person may have ``per_person`` jobs running or waiting: $STUDIO_QUEUE_PER_PERSON,
else 1 for a signed-in person and no limit for LOCAL (the one person of a studio without logins).
The JobManager stays as narrow as it was: the queue only calls start, wait and reads ``run``.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from studio.config import RunConfig
from studio.runs.directory import QUEUED, Run, list_runs, new_run, open_run
from studio.runs.owners import LOCAL, check_change, claim, owner_of
from studio.runs.record import resume_problems
from studio.schema import ConfigError
from studio.train.jobs.manager import JobManager
from studio.train.plan import plan_run

log = logging.getLogger(__name__)


class QueueFull(ValueError):
    """The person already has as many jobs running or waiting as the studio allows."""


@dataclass
class Ticket:
    run: Run
    position: int  # 0: training now; n: n-th in line

    @property
    def text(self) -> str:
        return "training" if self.position == 0 else f"queued: {ordinal(self.position)} in line"


@dataclass
class _Entry:
    run: Run
    owner: str
    resume: bool


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def per_person_limit(user: str | None) -> int | None:
    """Jobs one person may have running or waiting; None: no limit."""
    text = os.environ.get("STUDIO_QUEUE_PER_PERSON", "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(
                f"STUDIO_QUEUE_PER_PERSON: {text!r} is not a whole number; set e.g. 1, or 0 for no limit"
            ) from None
        return value if value > 0 else None
    return None if user in (None, LOCAL) else 1


class TrainingQueue:
    def __init__(self, jobs: JobManager, runs_root: str | Path | None = None):
        self.jobs = jobs
        self.runs_root = Path(runs_root) if runs_root else None
        self._waiting: list[_Entry] = []
        self._lock = threading.RLock()
        self._dispatcher: threading.Thread | None = None
        self.closed = False  # shutting down: start nothing more; waiting runs stay queued on disk

    # -- what people see ---------------------------------------------------------------------
    # Readers take no lock (a copy of the list is one step under the GIL): a viewer's poll never
    # waits while the dispatcher plans the next job, and that job stays in the list until it started.
    def waiting(self, user: str | None = None) -> list[Run]:
        """The waiting runs in order (of ``user`` only, when given)."""
        return [e.run for e in list(self._waiting) if user is None or e.owner == user]

    def position(self, run_id: str) -> int | None:
        if self.jobs.active and self.jobs.run is not None and self.jobs.run.id == run_id:
            return 0
        ids = [e.run.id for e in list(self._waiting)]
        return ids.index(run_id) + 1 if run_id in ids else None

    def holds(self, run: Run) -> bool:
        return any(e.run.path == run.path for e in list(self._waiting))

    # -- submit and cancel ---------------------------------------------------------------------
    def submit(self, config: RunConfig | None, user: str | None, resume: str | Path | None = None) -> Ticket:
        """Train now when nothing trains and nobody waits, else join the end of the line.

        Raises ConfigError (a ValueError) for a config or data problem and QueueFull past the
        per-person limit, both before anything is written.
        """
        with self._lock:
            self._check_limit(user)
            if not self.jobs.active and not self._waiting:
                return Ticket(self._start_now(config, user, resume), 0)
            entry = self._enqueue(config, user, resume)
            self._waiting.append(entry)
            self._ensure_dispatcher()
            return Ticket(entry.run, len(self._waiting))

    def cancel(self, run_id: str, user: str | None) -> Run:
        """Take a waiting run out of the line: a Start's run directory is deleted (it never
        trained); a resume goes back to how it was."""
        with self._lock:
            entry = next((e for e in self._waiting if e.run.id == run_id), None)
            if entry is None:
                raise ValueError(f"run {run_id} is not waiting in the training queue")
            check_change(entry.run, user, "cancel")
            self._waiting.remove(entry)
            if entry.resume:
                before = entry.run.read_json("status.json").get("queued_from") or "stopped"
                entry.run.set_status(status=before, queued_at=None, queued_from=None)
            else:
                shutil.rmtree(entry.run.path, ignore_errors=True)
            return entry.run

    def cancel_last(self, user: str | None) -> Run | None:
        """``user``'s Stop with nothing of theirs training: their last waiting run leaves the line."""
        with self._lock:
            mine = self.waiting(user)
            return self.cancel(mine[-1].id, user) if mine else None

    def restore(self) -> list[Run]:
        """Put runs recorded as queued back in line, oldest first (after an app restart), behind
        the run a previous studio sent to a Ray cluster, followed again while its job runs."""
        self.jobs.follow_again()
        with self._lock:
            held = {e.run.path for e in self._waiting}
            found = [r for r in list_runs(self.runs_root) if r.path not in held and r.status().get("status") == QUEUED]
            found.sort(key=lambda r: r.read_json("status.json").get("queued_at") or 0)
            for run in found:
                resume = bool(run.read_json("status.json").get("queued_from"))
                self._waiting.append(_Entry(run, owner_of(run), resume))
            if found:
                log.info("training queue restored: %s", ", ".join(r.id for r in found))
                self._ensure_dispatcher()
            return found

    def close(self) -> None:
        """Start nothing more (the process is going down, e.g. on SIGTERM): the waiting runs keep
        their "queued" status.json, so the next start restores them."""
        with self._lock:
            self.closed = True

    # -- inside --------------------------------------------------------------------------------
    def _check_limit(self, user: str | None) -> None:
        limit = per_person_limit(user)
        if limit is None:
            return
        owner = user or LOCAL
        mine = [e.run.id for e in self._waiting if e.owner == owner]
        if self.jobs.active and self.jobs.run is not None and owner_of(self.jobs.run) == owner:
            mine.insert(0, self.jobs.run.id)
        if len(mine) >= limit:
            raise QueueFull(
                f"queue: you already have {len(mine)} training{'s' if len(mine) > 1 else ''} running or waiting "
                f"({', '.join(mine)}); this studio allows {limit} per person. Wait for it to end, or cancel "
                "the waiting one (Stop in the Train tab, or Delete in the Runs tab)"
            )

    def _start_now(self, config: RunConfig | None, user: str | None, resume) -> Run:
        if resume is not None:
            return self.jobs.start(None, resume=resume)
        run = new_run(config, self.runs_root)
        claim(run, user)  # before a step is taken: the run is never anyone else's, not even briefly
        try:
            return self.jobs.start(config, run_dir=run.path)
        except BaseException:
            shutil.rmtree(run.path, ignore_errors=True)  # refused: leave no run behind, as before
            raise

    def _enqueue(self, config: RunConfig | None, user: str | None, resume) -> _Entry:
        """Check the Start now, then write it down as queued."""
        if resume is not None:
            run = open_run(resume, self.runs_root)
            if self.holds(run):
                raise ValueError(f"run {run.id} is already waiting in the training queue")
            problems = resume_problems(run, plan_run(run.config()))
            if problems:
                raise ConfigError(problems)
            before = run.status().get("status")
            run.set_status(status=QUEUED, queued_at=time.time(), queued_from=before, error="")
            return _Entry(run, owner_of(run), True)
        plan_run(config)  # raises ConfigError: the mistake is named now, not when its turn comes
        run = new_run(config, self.runs_root)
        claim(run, user)
        run.set_status(status=QUEUED, queued_at=time.time())
        return _Entry(run, user or LOCAL, False)

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or not self._dispatcher.is_alive():
            self._dispatcher = threading.Thread(target=self._dispatch, name="train-queue", daemon=True)
            self._dispatcher.start()

    def _dispatch(self) -> None:
        """Wait for the running job to end; start the oldest waiting run; until nobody waits."""
        while True:
            self.jobs.wait()
            with self._lock:
                if self.jobs.active:
                    continue
                if not self._waiting or self.closed:
                    self._dispatcher = None
                    return
                self._launch(self._waiting[0])
                self._waiting.pop(0)

    def _launch(self, entry: _Entry) -> None:
        run = entry.run
        if not (run.path / "config.yaml").is_file():  # deleted behind the queue's back
            log.warning("queued run %s is gone; skipped", run.id)
            return
        try:
            if entry.resume:
                self.jobs.start(None, resume=run.path)
            else:
                self.jobs.start(run.config(), run_dir=run.path)
            log.info("run %s (of %s) started from the queue", run.id, entry.owner)
        except (ValueError, RuntimeError, OSError) as exc:  # refused at its turn (e.g. the memory is taken)
            log.error("queued run %s could not start: %s", run.id, exc)
            run.set_status(status="failed", error=f"could not start from the queue: {exc}", ended=time.time())
