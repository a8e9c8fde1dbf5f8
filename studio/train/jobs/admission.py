"""Admission: a run starts only when its memory estimate fits the device's free memory, and what it
will write (checkpoints and the final adapter) fits the free disk of the runs folder.

    from studio.train.jobs.admission import admit, admit_disk
    est = admit(plan)      # the Estimate, or ConfigError: the estimate, the free memory and what would fit
    admit_disk(plan, est, runs_folder)   # the DiskNeed, or ConfigError: the need against the free disk

``JobManager.start`` calls it after the plan (config checked, data read) and before a model is
loaded, so every Start, from the UI, the API or the CLI, is checked before any big allocation.
On a shared studio one request with ``batch_size: 1000000000`` grew the server to 23 GB until
the kernel killed it, for everyone; such a run is refused here with a message instead.

The disk need comes from the same estimate (studio.train.jobs.disk): a full disk met mid-run costs the
hours trained since the last checkpoint, or everything when none was written yet.


The headroom: what the run adds to the process (``Estimate.added_bytes``: the estimate, the
same figure the review and the status line show, less what this process already holds) must stay
under ``HEADROOM_SHARE`` (90%) of the free memory. The estimate counts the runtime itself (the
Python process and its libraries, the CUDA context), so no further allowance is subtracted.
"""

from __future__ import annotations

import logging
from pathlib import Path

from studio.models.device import detect, free_memory
from studio.schema import ConfigError, Problem
from studio.train.estimate import fit, plan_estimate
from studio.train.jobs import disk

log = logging.getLogger(__name__)

HEADROOM_SHARE = 0.9
GIB = 2**30
FIXES = (
    "a smaller batch_size (raise grad_accum to keep the effective batch), adapter qlora (the base in 4-bit), "
    "gradient_checkpointing on, or a shorter max_length (or free memory: unload the chat's models)"
)


def device_free_bytes() -> int:
    """Free memory of the training device now, after giving back what Python and CUDA cache."""

    free_memory()
    return detect().free_memory_bytes


def budget_bytes(free: int) -> int:
    return int(free * HEADROOM_SHARE)


def admit(plan, free_bytes: int | None = None):
    """The plan's Estimate when it fits the free memory with the headroom; ConfigError otherwise.

    A model the estimator cannot build is admitted (with a log line): no estimate, no verdict.
    """

    try:
        est = plan_estimate(plan)
    except (ValueError, RuntimeError) as exc:
        log.warning("no memory estimate, the run is admitted unchecked: %s", exc)
        return None
    free = device_free_bytes() if free_bytes is None else free_bytes
    budget = budget_bytes(free)
    if est.added_bytes <= budget:
        return est
    suggestions = fit(est, plan.config, plan.device, free_bytes=max(budget, 0)).suggestions
    held = f", {est.held_bytes / GIB:.2f} GiB of it held already," if est.held_bytes else ""
    message = (
        f"needs about {est.total_bytes / GIB:.2f} GiB{held} but {free / GIB:.2f} GiB is free on {plan.device.kind} "
        f"(a run may add {HEADROOM_SHARE:.0%} of it: {max(budget, 0) / GIB:.2f} GiB); "
        f"try {FIXES}. " + "; ".join(suggestions)
    )
    raise ConfigError([Problem("memory", message)])


def vocab_size(plan) -> int | None:
    tokenizer = getattr(plan, "tokenizer", None)
    return len(tokenizer) if tokenizer is not None else None


def disk_free_bytes(folder: Path) -> int | None:
    """Free bytes on the runs folder's disk now (a test replaces this, rather than fill a disk)."""
    return disk.free_bytes(folder)


def admit_disk(plan, est, folder: Path, written: int = 0):
    """The run's DiskNeed when it fits the free disk of ``folder`` (the runs folder); ConfigError
    otherwise. ``written``: bytes of checkpoints a resumed run already has there (they count among
    those kept). No estimate or no free figure: admitted, as in ``admit``."""
    if est is None:
        return None
    need = disk.disk_need(est, plan.config, plan.total_steps, vocab_size(plan))
    free = disk_free_bytes(folder)
    required = max(0, need.total_bytes - written)
    if free is None or required <= free:
        return need
    message = (
        f"the run writes about {disk.size(required)} ({need.describe()}"
        + (f", less {disk.size(written)} of checkpoints already there" if written else "")
        + f") but {Path(folder).absolute()} has {disk.size(free)} free; free {disk.size(required - free)} there "
        "(delete old runs or their checkpoints), lower save_total_limit, or choose another runs folder"
    )
    raise ConfigError([Problem("disk", message)])
