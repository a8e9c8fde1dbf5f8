"""Why a training ended badly, in one line, and what is cleaned up after it.

    cause(exc, run, step)         # "disk full: ..." / "out of memory: ..." / "ValueError: ..."
    drop_partial(run)             # checkpoints a failed save left half-written
    settle(root)                  # runs whose process was killed: status.json says interrupted

A full disk does not say so: torch.save reports it as ``RuntimeError: [enforce fail at
inline_container.cc] . unexpected pos ...``. So the exception chain is searched for ENOSPC, for
the writers' own words, and, failing both, the free space of the run's disk is measured. What it
then says matches what is on disk: the last complete checkpoint by name and step, and about how
much to free before resuming (studio.train.jobs.disk, from the need recorded at the start), or, with no
checkpoint, that there is nothing to resume and the run must start again.
"""

from __future__ import annotations

import errno
import logging
import shutil
import time
from pathlib import Path

from studio.runs.directory import ACTIVE, Run, list_runs
from studio.train.jobs import disk

log = logging.getLogger(__name__)

DISK_WORDS = ("no space left", "unexpected pos", "file write failed", "disk quota")
NEARLY_FULL = 64 * 2**20  # a failed write with less free than this was the disk being full
PARTIAL_ADAPTER = ".adapter.partial"  # where the adapter is saved before it is renamed into place


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def disk_full(exc: BaseException, folder: Path) -> bool:
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(word in str(link).lower() for word in DISK_WORDS):
            return True
    free = disk.free_bytes(folder)
    return isinstance(exc, OSError | RuntimeError) and free is not None and free < NEARLY_FULL


def out_of_memory(exc: BaseException) -> bool:
    return any(
        isinstance(link, MemoryError) or "OutOfMemoryError" in type(link).__name__ or "out of memory" in str(link)
        for link in _chain(exc)
    )


def one_line(exc: BaseException, limit: int = 300) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cause(exc: BaseException, run: Run, step: int = 0) -> str:
    """The one-line reason a run failed, naming the fix (after ``drop_partial``: only complete
    checkpoints are left to name)."""
    if disk_full(exc, run.path):
        return disk_full_cause(run, step)
    if out_of_memory(exc):
        return (
            f"out of memory at step {step} ({type(exc).__name__}); lower batch_size or max_length, "
            "or use adapter qlora or gradient_checkpointing, then resume"
        )
    return one_line(exc)


def disk_full_cause(run: Run, step: int) -> str:
    """What a full disk left: the checkpoint to resume from (or none), and how much to free where."""
    folder = run.path.parent
    free = disk.free_bytes(run.path)
    left = f" ({disk.size(free)} free)" if free is not None else ""
    more = disk.to_free(run, free)
    free_up = f"free about {disk.size(more)} in {folder}" if more else f"free space in {folder}"
    how = "delete old runs or their checkpoints, or lower save_total_limit"
    last = run.last_checkpoint()
    if last is None:
        return (
            f"disk full at step {step}: no space left in {folder}{left}, and no checkpoint was completed, so "
            f"there is nothing to resume; {free_up} ({how}), then start the run again"
        )
    return (
        f"disk full at step {step}: no space left in {folder}{left}; the last complete checkpoint is {last.name} "
        f"(step {last.name.split('-')[-1]}), kept. To continue from it, {free_up} ({how}), then resume"
    )


def drop_partial(run: Run) -> list[Path]:
    """Remove checkpoint folders a failed save left without their trainer_state.json."""
    complete = set(run.checkpoints())
    partial = [p for p in run.checkpoints_dir.glob("checkpoint-*") if p.is_dir() and p not in complete]
    if (run.path / PARTIAL_ADAPTER).exists():
        partial.append(run.path / PARTIAL_ADAPTER)
    for folder in partial:
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed the half-written %s", folder)
    return partial


def mark_interrupted(run: Run, cause: str) -> bool:
    """status.json: interrupted, with its one-line cause; False (and a log line) when the disk refuses."""
    try:
        run.set_status(status="interrupted", error=cause, ended=time.time())
    except OSError as exc:
        log.warning("could not record run %s as interrupted: %s", run.id, exc)
        return False
    return True


def settle(root: Path | None = None) -> list[Run]:
    """Record in status.json that runs whose training process is gone (killed) were interrupted."""
    settled = []
    for run in list_runs(root):
        status = run.status()  # the cause with it (studio.runs.directory)
        if run.read_json("status.json").get("status") in ACTIVE and status.get("status") == "interrupted":
            if mark_interrupted(run, status["error"]):
                settled.append(run)
    return settled
