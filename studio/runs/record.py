"""What a job writes about its run besides metrics: environment, dataset, log; and resume rules.

write_records(run, plan, environment(plan))   # environment.json and dataset.json
handler = attach_log(run)                     # this thread's log lines into train.log
resume_problems(run, plan)                    # why a run cannot resume, if it cannot
trim_after(run, step)                         # drop curve points, probes and samples past a checkpoint
"""

from __future__ import annotations

import json
import logging
import platform
import threading

from studio.runs import completions
from studio.runs.directory import ACTIVE, Run
from studio.runs.metrics import trim_steps
from studio.schema import Problem
import importlib.metadata as md


def environment(plan) -> dict:
    versions = {}
    for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": plan.device.describe(),
        "device_kind": plan.device.kind,
        "world_size": plan.world_size,
        "precision": plan.precision,
        "libraries": versions,
    }


def hardware(plan) -> dict:
    """What a segment of the run trained on (segments.json): device, precision, processes."""
    return {"device": plan.device.describe(), "precision": plan.precision, "world_size": plan.world_size}


def dataset_record(plan) -> dict:
    return {
        "source": plan.config.data.dataset,
        "format": plan.data.format,
        "rows": len(plan.data.rows),
        "fingerprint": plan.data.fingerprint,
        "train_rows": len(plan.train.examples),
        "val_rows": len(plan.val.examples) if plan.val else 0,
        "trained_tokens": plan.train.trained_tokens,
        "total_tokens": plan.train.total_tokens,
        "refused": {str(k): v for k, v in plan.train.refused.items()},
        "skipped": {str(e.row): e.reason for e in plan.data.skipped},
        "train_row_numbers": plan.train.row_numbers,
        "val_row_numbers": plan.val.row_numbers if plan.val else [],
        **(
            {"val_source": plan.config.data.val_dataset, "val_fingerprint": plan.val_data.fingerprint}
            if plan.val_data
            else {}
        ),
    }


def write_records(run: Run, plan, env: dict) -> None:
    """environment.json always (it may differ on resume); dataset.json once (the first start's)."""
    if run.read_json("environment.json"):
        history = run.read_json("environment.json").get("previous", [])
        previous = {k: v for k, v in run.read_json("environment.json").items() if k != "previous"}
        env = {**env, "previous": [*history, previous]}
    run.write_json("environment.json", env)
    if not run.read_json("dataset.json"):
        run.write_json("dataset.json", dataset_record(plan))


class _ThreadLog(logging.Filter):
    def __init__(self, thread_id: int):
        super().__init__()
        self.thread_id = thread_id

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread_id


class _RunLog(logging.FileHandler):
    """train.log. A line the disk cannot take (a full disk) is dropped: logging's default prints a
    traceback on stderr for each, which buried the run's one-line cause under raw tracebacks."""

    def handleError(self, record: logging.LogRecord) -> None:
        return  # the line is lost; status.json (written after space is freed) carries the cause


def attach_log(run: Run) -> logging.Handler:
    handler = _RunLog(run.log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ThreadLog(threading.get_ident()))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return handler


def log_traceback(handler: logging.Handler, exc: BaseException) -> None:
    """The failure's traceback into the run's train.log alone, at DEBUG: the person sees the one-line
    cause (status.json, the Train tab, the CLI), a developer finds the rest in the file."""
    trace = (type(exc), exc, exc.__traceback__)
    record = logging.LogRecord("studio.train.jobs.manager", logging.DEBUG, __file__, 0, "the failure's traceback", None, trace)
    handler.handle(record)  # past the handler's INFO level on purpose; the console never sees it


def trim_after(run: Run, step: int) -> None:
    """On resume, drop curve points and probe answers past the checkpoint, so curves do not fold."""
    for path in (run.metrics_path, run.probes_path, run.path / completions.FILE):
        trim_steps(path, step)


def resume_problems(run: Run, plan) -> list[Problem]:
    """Why this run cannot continue: still running, finished, nothing saved, or different data."""
    status = run.status().get("status")
    if status in ACTIVE:
        return [Problem("run", f"{run.id} is still training (pid {run.status().get('pid')}); stop it first")]
    if status == "completed":
        return [Problem("run", f"{run.id} already completed; start a new run to train further")]
    if run.last_checkpoint() is None:
        return [
            Problem(
                "run",
                f"{run.id} has no checkpoint to resume from (it ended before its first save); "
                "start it again, with save_steps above 0 to make it resumable",
            )
        ]
    if run.steps_left() == 0:
        last = run.last_checkpoint().name
        return [
            Problem(
                "run",
                f"{run.id} trained all its steps ({last} is at max_steps); nothing is left to resume. "
                f"Chat with or export its adapter (or {last}), or start a new run to train further",
            )
        ]
    record = run.read_json("dataset.json")
    checked = [("dataset", plan.config.data.dataset, record.get("fingerprint"), plan.data.fingerprint)]
    if plan.val_data:
        checked.append(
            ("val_dataset", plan.config.data.val_dataset, record.get("val_fingerprint"), plan.val_data.fingerprint)
        )
    for field_name, source, recorded, current in checked:
        if recorded and recorded != current:
            return [
                Problem(
                    field_name,
                    f"{source} changed since {run.id} started (fingerprint {recorded} -> {current}); "
                    "resuming would continue on other data. Restore it or start a new run",
                )
            ]
    return []
