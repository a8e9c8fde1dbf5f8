"""One run is one directory, and it is the truth.

    runs/20261123-101500-sft-lora-smollm2-135m-instruct-5f0c9a2e/   time, name, a random part
        config.yaml       the resolved RunConfig, written first
        dataset.json      source, format, rows, fingerprint
        environment.json  library versions and device (and those of earlier starts, on resume)
        estimate.json     the memory estimate made before the start
        status.json       status, timestamps, error; updated by the job (and the queue)
        owner.json        who started it and whether it is shared read-only (studio.runs.owners)
        metrics.jsonl     one JSON object per logged step / evaluation, appended by the callback
        probes.jsonl      the probe prompts' answers (step 0: the base), when probes are pinned
        segments.json     each start and resume: steps, time, tokens, peak memory, hardware
        summary.json      steps, time, measured peak memory (at the end; totals over the segments)
        train.log         the log of the run
        checkpoints/      resumable Trainer checkpoints
        adapter/          the trained adapter (or full model) and tokenizer

The UI, the CLI, a refreshed browser and a restarted app all read these files. The runs root
is ``$STUDIO_RUNS_DIR``, else ``/data/runs`` on a Space with persistent storage, else ``./runs``
(studio.paths.runs_root).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from studio.config import RunConfig
from studio.paths import runs_root
from studio.runs.metrics import best_metrics, read_metrics, read_probes, round_or_none
from studio.runs.segments import read_segments, segment_row, segment_totals

HOST = socket.gethostname()  # status.json's pid is judged alive or gone only on the machine that wrote it

# The one table of run statuses: a job is ACTIVE while its process may still write, then TERMINAL.
# Before that a Start may wait in the training queue (studio.train.jobs.queue): WAITING, no process yet,
# so never "interrupted"; a restarted app puts it back in the queue. ("created": written, not started.)
ACTIVE = ("starting", "running", "stopping")
QUEUED = "queued"
WAITING = (QUEUED,)
TERMINAL = ("completed", "stopped", "failed", "interrupted")
RESUMABLE = ("stopped", "interrupted", "failed")  # ended early: a checkpoint may carry on


def _slug(text: str) -> str:
    """A run name as one folder name: letters of any script, digits, ``.``, ``_``, ``-``; no ``/`` or ``..``."""
    text = unicodedata.normalize("NFC", text)
    slug = re.sub(r"\.{2,}", ".", re.sub(r"[^\w.-]+", "-", text)).strip("-.").lower()
    return slug[:60].strip("-.") or "run"


@dataclass
class Run:
    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    # -- files -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    @property
    def probes_path(self) -> Path:
        return self.path / "probes.jsonl"

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def config(self) -> RunConfig:
        return RunConfig.load(self.config_path)

    def read_json(self, name: str) -> dict:
        try:
            return json.loads((self.path / name).read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def write_json(self, name: str, data: dict) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str))
        tmp.replace(self.path / name)

    def status(self) -> dict:
        """status.json, with a run whose process is gone reported as interrupted, with the cause
        (studio.train.jobs.faults.settle writes it into the file at app start). A run training on another
        machine (a Ray worker writing into a shared run directory) is judged by its job, which the
        studio that follows it watches (studio.launch.remote), not by a pid of that machine."""
        status = self.read_json("status.json") or {"status": "unknown"}
        here = status.get("host", HOST) == HOST
        if status.get("status") in ACTIVE and here and not _alive(status.get("pid")):
            last = self.last_checkpoint()
            where = f"resume from {last.name}" if last else "no checkpoint was saved: start it again"
            killed = f"the training process (pid {status.get('pid')}) ended without finishing (killed?); {where}"
            status.update(status="interrupted", error=status.get("error") or killed)
        return status

    def set_status(self, **fields) -> dict:
        status = self.read_json("status.json")
        status.update(fields, updated=time.time())
        self.write_json("status.json", status)
        return status

    def metrics(self) -> list[dict]:
        return read_metrics(self.metrics_path)

    def probes(self) -> list[dict]:
        return read_probes(self.probes_path)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 200 * lines))
                return "\n".join(fh.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def checkpoints(self) -> list[Path]:
        if not self.checkpoints_dir.is_dir():
            return []
        # A process killed while saving leaves a checkpoint without its trainer_state.json, which
        # the Trainer writes last: such a folder is not a checkpoint.
        found = [
            p
            for p in self.checkpoints_dir.glob("checkpoint-*")
            if p.name.split("-")[-1].isdigit() and "global_step" in _trainer_state(p)
        ]
        return sorted(found, key=lambda p: int(p.name.split("-")[-1]))

    def last_checkpoint(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def steps_left(self) -> int | None:
        """Steps the last checkpoint has left to train (max_steps less global_step in its
        trainer_state.json), else None. At 0 nothing is left: the Trainer, resumed there, would
        train one step past max_steps before it checks."""
        last = self.last_checkpoint()
        state = _trainer_state(last) if last else {}
        if not state.get("max_steps") or "global_step" not in state:
            return None
        return max(0, int(state["max_steps"]) - int(state["global_step"]))

    def has_adapter(self) -> bool:
        return (self.adapter_dir / "adapter_config.json").exists() or (self.adapter_dir / "config.json").exists()

    def summary(self) -> dict:
        """A row of the run history: what it was, how it ended, its best numbers."""
        status = self.status()
        metrics = self.metrics()
        try:
            cfg = self.config()
            method, adapter, model = cfg.train.method, cfg.adapter.adapter, cfg.model.model
        except (OSError, ValueError):
            method = adapter = model = "?"
        finished = self.read_json("summary.json")
        segments = read_segments(self.path, last=status.get("status", "interrupted"))
        totals = segment_totals(segments)
        peak = max(finished.get("peak_memory_bytes") or 0, totals["peak_memory_bytes"] or 0)
        return {
            "run": self.id,
            "status": status.get("status", "unknown"),
            "method": method,
            "adapter": adapter,
            "model": model,
            "step": max((m.get("step", 0) for m in metrics), default=0),
            "total_steps": status.get("total_steps") or 0,
            **best_metrics(metrics),
            "peak_memory_gib": _gib(peak),
            "estimated_memory_gib": _gib(self.read_json("estimate.json").get("memory_bytes", {}).get("total")),
            "seconds_per_step": round_or_none(finished.get("seconds_per_step") or status.get("seconds_per_step"), 3),
            "checkpoint": self.last_checkpoint().name if self.last_checkpoint() else "",
            "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(status.get("started", 0)))
            if status.get("started")
            else "",
            "error": status.get("error", ""),
            "eval_perplexity": _eval_perplexity(self.read_json("eval.json")),
            "train_seconds": totals["train_seconds"] or finished.get("train_seconds"),
            "tokens": totals["tokens"] or None,
            "segments": [segment_row(s) for s in segments],
        }


def _eval_perplexity(result: dict) -> dict | None:
    """Base and adapter perplexity from the run's evaluation (eval.json), or None before one."""
    pair = {side: round_or_none(result.get(side, {}).get("perplexity"), 3) for side in ("base", "adapter")}
    return pair if pair["adapter"] is not None else None


def _gib(value) -> float | None:
    return round(value / 2**30, 2) if isinstance(value, (int, float)) and value else None


def _trainer_state(checkpoint: Path) -> dict:
    try:
        return json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):  # not written yet (or removed since it was listed)
        return {}


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def new_run(config: RunConfig, root: Path | None = None) -> Run:
    """Create the run directory and write the resolved config into it first.

    The id is the time (ids sort by it), the name, and a random part: a run's files are read
    only by its owner (studio.data.access), and its id cannot be guessed from when it started."""
    root = Path(root or runs_root())
    root.mkdir(parents=True, exist_ok=True)
    model = Path(config.model.model).name if config.model.model else "model"
    name = _slug(config.run_name or f"{config.train.method}-{config.adapter.adapter}-{model}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        path = root / f"{stamp}-{name}-{secrets.token_hex(4)}"
        try:
            path.mkdir(parents=True)
            break
        except FileExistsError:  # the same random part twice: draw again
            continue
    run = Run(path)
    try:  # config.yaml appears whole or not at all: a full disk leaves no run listed as "unknown"
        config.save(path / ".config.yaml.tmp").replace(run.config_path)
        run.set_status(status="created", created=time.time())
    except OSError as exc:
        shutil.rmtree(path, ignore_errors=True)
        raise ValueError(
            f"runs folder {root}: the run could not be created ({exc.strerror or exc}); "
            "free disk space (delete old runs or checkpoints) and start again"
        ) from exc
    return run


def open_run(ref: str | Path, root: Path | None = None) -> Run:
    """A run by id under the runs root, or by path.

    With ``root`` given (the app's services), the run must be a folder directly inside it, by id
    or by a path that resolves there (links and ``..`` followed); anything else is refused with
    the same message whether it exists or not, so run ids cannot probe the server's folders.
    Without it (the CLI, where the operator names folders on their own machine), a path to a
    run directory is opened where it is.
    """
    if root is not None:
        return _confined_run(ref, Path(root))
    path = Path(ref)
    if not path.is_dir():
        path = runs_root() / str(ref)
    if not (path / "config.yaml").exists():
        raise ValueError(f"run: {ref} is not a run directory (no config.yaml)")
    return Run(path)


def _confined_run(ref: str | Path, root: Path) -> Run:
    text = str(ref).strip()
    path = Path(text) if ("/" in text or os.sep in text) else root / text
    try:
        inside = path.resolve().parent == root.resolve() and (path / "config.yaml").is_file()
    except (OSError, RuntimeError):  # a symbolic link loop
        inside = False
    if not text or not inside:
        raise ValueError(f"run: {ref} is not a run in the runs folder; pick one from the run list")
    return Run(path)


def run_source(source: str | Path, root: Path) -> str:
    """A chat or evaluation source inside the runs folder: a run's adapter/ or one of its
    checkpoints; anything else is refused, with the same message whether it exists or not."""
    try:
        rel = Path(source).expanduser().resolve().relative_to(Path(root).resolve()).parts
    except (OSError, RuntimeError, ValueError):
        rel = ()
    if rel[1:] == ("adapter",) or (len(rel) == 3 and rel[1] == "checkpoints" and rel[2].startswith("checkpoint-")):
        return str(source)
    raise not_a_source(source)


def not_a_source(source: str | Path) -> ValueError:
    """The refusal of a chat or evaluation source: the same for one outside, missing or another person's."""
    return ValueError(
        f"adapter: {source} is not a run's adapter or checkpoint in the runs folder: give <runs>/<run id>/adapter "
        "or <runs>/<run id>/checkpoints/checkpoint-N of one of your runs or a shared one, or pick one from the list"
    )


def list_runs(root: Path | None = None) -> list[Run]:
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    runs = [Run(p) for p in root.iterdir() if (p / "config.yaml").exists()]
    return sorted(runs, key=lambda r: r.id, reverse=True)


def similar_step_time(config: RunConfig, root: Path | None = None) -> tuple[float, str] | None:
    """Seconds per step of the newest finished run with the same model, method, adapter and batch shape."""
    keys = ("model.model", "adapter.adapter", "train.method", "train.batch_size", "train.max_length")

    def shape(cfg: RunConfig) -> tuple:
        return tuple(getattr(getattr(cfg, k.split(".")[0]), k.split(".")[1]) for k in keys)

    wanted = shape(config)
    for run in list_runs(root):
        seconds = run.read_json("summary.json").get("seconds_per_step")
        if not seconds:
            continue
        try:
            if shape(run.config()) == wanted:
                return float(seconds), f"timed in run {run.id}"
        except (OSError, ValueError):
            continue
    return None


def delete_run(run: Run) -> None:
    if run.status().get("status") in ACTIVE:
        raise ValueError(f"run {run.id} is still training; stop it first")
    shutil.rmtree(run.path)
