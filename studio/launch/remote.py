"""A run trained elsewhere (``--on accelerate`` or ``--on ray``), followed through its run directory.

    handle = send(plan, run, resuming)          # accelerate launch in its own session, or a Ray job
    follow(handle, run, tracker, stop_event)    # the job thread's body: files -> Progress, Stop -> job

The processes that train write the run directory exactly as a local job does (metrics.jsonl,
status.json, checkpoints), so the studio's tracker only mirrors those files: live curves, the
Runs tab and resume need nothing else. Stop writes ``stop.request`` there; every worker stops
after the same step with a checkpoint, and a job that has not ended after the grace period is
cancelled (the Ray job stopped, the accelerate processes sent SIGTERM). Neither the launched
processes nor the Ray job belong to the studio's process: they go on if it goes away.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from studio.launch import ray_jobs
from studio.launch.accelerate_yaml import launch_command, write_config
from studio.launch.cluster import cluster_problems
from studio.models.meta import meta_model
from studio.runs.directory import ACTIVE, Run
from studio.schema import ConfigError
from studio.train.jobs.progress import Tracker
from studio.train.placement import gpus_here

log = logging.getLogger(__name__)
STOP_FILE = "stop.request"  # studio.launch.ray_driver and the CLI's --into watch for it
GRACE_S = 120.0


def watch_stop_file(run: Run, jobs, every: float = 0.5) -> threading.Thread:
    """Stop the job when the studio asks through the run directory (the job may be on another host)."""

    def loop():
        while not (run.path / STOP_FILE).exists():
            time.sleep(every)
        jobs.stop()

    thread = threading.Thread(target=loop, name="stop-file", daemon=True)
    thread.start()
    return thread


def stop_elsewhere(runs: list[Run]) -> list[Run]:
    """Ask the runs of ``runs`` still training elsewhere (a Ray job, accelerate processes that outlived
    the studio that started them) to stop, through the file their workers watch; returns them."""
    asked = [r for r in runs if r.status().get("status") in ACTIVE and r.config().launch.on != "here"]
    for run in asked:
        (run.path / STOP_FILE).write_text("stop\n")
    return asked


@dataclass
class LaunchedProcesses:
    """``accelerate launch`` in a session of its own (it survives the studio; SIGTERM stops it resumably)."""

    process: subprocess.Popen

    @property
    def job_id(self) -> str:
        return f"pid {self.process.pid}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def cancel(self) -> bool:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            return True
        except ProcessLookupError:
            return False


def decoder_layer_class(model: str) -> str:
    """The class FSDP wraps one unit at a time: the model's decoder layer, read on the meta device."""
    built = meta_model(model)
    names = list(getattr(built, "_no_split_modules", None) or [])
    if not names:
        names = sorted({type(m).__name__ for m in built.modules() if type(m).__name__.endswith("DecoderLayer")})
    if not names:
        raise ValueError(f"model: cannot tell {model!r}'s decoder layer class for FSDP's auto wrap; use ddp")
    return ",".join(names)


def refuse_unready(launch) -> None:
    """Raise ConfigError when the cluster cannot take the run (unreachable, too small)."""
    errors = [p for p in cluster_problems(launch) if p.level == "error"]
    if errors:
        raise ConfigError(errors)


def send(plan, run: Run, resuming: bool = False):
    """Start the run where its launch section says; raises ConfigError for a cluster that cannot take it."""
    launch = plan.config.launch
    (run.path / STOP_FILE).unlink(missing_ok=True)
    if launch.on == "ray":
        attempt = len(run.read_json("launch.json").get("jobs", [])) + 1
        handle = ray_jobs.submit(launch, run.path, attempt)
    else:
        layer = decoder_layer_class(plan.config.model.model) if launch.strategy == "fsdp" else ""
        config_file = write_config(run.path, plan.config, layer, gpus_here(plan.device.kind))
        with open(run.path / "launch.log", "ab") as out:
            process = subprocess.Popen(
                launch_command(config_file, run.path),
                cwd=ray_jobs.ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        handle = LaunchedProcesses(process)
    record = run.read_json("launch.json")
    record.update(on=launch.on, address=launch.ray_address if launch.on == "ray" else "")
    record["jobs"] = [*record.get("jobs", []), {"id": handle.job_id, "submitted": time.time(), "resume": resuming}]
    run.write_json("launch.json", record)
    log.info("run %s sent to %s: %s", run.id, launch.on, handle.job_id)
    return handle


def running_job(run: Run):
    """The Ray job a run recorded as training is still on (launch.json names it), else None; a
    cluster that does not answer counts as none (the Runs tab still shows the run's last status)."""
    record = run.read_json("launch.json")
    jobs = record.get("jobs") or []
    if record.get("on") != "ray" or not jobs or run.read_json("status.json").get("status") not in ACTIVE:
        return None
    handle = ray_jobs.RayJob(record.get("address", ""), jobs[-1]["id"])
    try:
        return handle if handle.alive() else None
    except Exception as exc:  # noqa: BLE001 - the Ray client raises its own connection errors
        log.warning("run %s: its Ray cluster %s does not answer (%s)", run.id, handle.address, exc)
        return None


def mirror(run: Run, tracker: Tracker, seen_restarts: int = 0) -> int:
    """Copy the run directory's status and curve into the tracker; returns the restarts seen."""
    status = run.read_json("status.json")
    metrics = run.metrics()
    steps = [m for m in metrics if "loss" in m and m.get("step")]
    fields = {"metrics": metrics, "total_steps": int(status.get("total_steps") or 0)}
    if status.get("status") in ACTIVE:
        fields["status"] = status["status"]
    if steps:
        last = steps[-1]
        fields |= {"loss": last.get("loss"), "learning_rate": last.get("learning_rate")}
        tracker.step_done(int(last["step"]), fields["total_steps"], float(last.get("epoch") or 0.0))
    tracker.update(**fields)
    restarts = status.get("restarts", [])
    for restart in restarts[seen_restarts:]:
        tracker.warn(f"a worker died; Ray restarted the workers from the checkpoint at step {restart['from_step']}")
    return len(restarts)


def follow(handle, run: Run, tracker: Tracker, stop_event, poll_s: float = 1.0, grace_s: float = GRACE_S) -> None:
    """Mirror the run until its job ends; Stop asks the workers through the run directory first."""
    asked, restarts = None, 0
    tracker.update(status="starting", message=f"sent to {run.config().launch.on}: {handle.job_id}")
    while True:
        restarts = mirror(run, tracker, restarts)
        if stop_event.is_set() and asked is None:
            (run.path / STOP_FILE).write_text("stop\n")
            asked = time.monotonic()
            tracker.update(status="stopping", message="stopping after the current step")
        alive = handle.alive()
        if alive and asked is not None and time.monotonic() - asked > grace_s:
            log.warning("run %s: no stop after %.0f s; cancelling %s", run.id, grace_s, handle.job_id)
            handle.cancel()
        if not alive:
            break
        time.sleep(poll_s)
    mirror(run, tracker, restarts)
    status = run.read_json("status.json")
    if status.get("status") in ACTIVE or status.get("status") == "created":
        error = f"the job {handle.job_id} ended before the run recorded its end"
        run.set_status(status="interrupted", error=error, ended=time.time())
        status = run.read_json("status.json")
    final = status.get("status", "failed")
    tracker.update(status=final, error=status.get("error", ""), message=f"{final} at step {status.get('step', '?')}")
