"""The one training job of this process: a thread, a stop event and a progress snapshot.

    jobs = JobManager()
    run = jobs.start(RunConfig.load("configs/quick_lora_sft.yaml"))  # validates, then trains in a thread
    jobs.snapshot()   # Progress: step, loss, ETA, the whole curve; any tab, any reload
    jobs.stop()       # cooperative: ends at the next step, saves a checkpoint and the adapter
    jobs.start(None, resume=run.path)   # continues from the last checkpoint at the right step

The job lives on the server, not in a browser session, so a reloaded page re-attaches to it.
Only one job trains at a time; a second start is refused with the running one untouched (the
studio puts it in studio.train.jobs.queue, which starts it when this one ends). The
interface is narrow (start, stop, snapshot, wait) so a subprocess backend could replace the
thread. Under a distributed launch each process runs a job on the same run directory; only the
main process (``main_process=True``) writes into it.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Protocol

from studio.config import METHODS, RunConfig
from studio.paths import runs_root
from studio.runs.directory import HOST, Run, list_runs, new_run, open_run
from studio.runs.record import (
    attach_log,
    environment,
    hardware,
    log_traceback,
    resume_problems,
    trim_after,
    write_records,
)
from studio.runs.segments import SegmentLog, read_segments, segment_totals
from studio.schema import ConfigError, Problem
from studio.train import trackers
from studio.train.callbacks import MetricsCallback
from studio.train.estimate import plan_estimate
from studio.train.jobs import disk, faults
from studio.train.jobs.admission import admit, admit_disk, vocab_size
from studio.train.jobs.progress import Progress, Tracker
from studio.train.methods.grpo_rewards import reward_model_check
from studio.train.model import trainable_parameters
from studio.train.peak_memory import PeakMemory
from studio.train.placement import trains_elsewhere
from studio.train.plan import Plan, generation_cycle, plan_run
from studio.train.probes import ProbeCallback
from studio.train.trainer import build_trainer

log = logging.getLogger(__name__)


# How far a background training steps back from the app's other threads (Linux nice, 0-19): on two
# cores the training's threads otherwise take the CPU a preview or a chat turn needs. Only under
# contention does it cost the training anything; idle cores still go to it.
NICE = "STUDIO_TRAIN_NICE"


def _lowered(body, *args) -> None:
    """``body(*args)`` on this thread, ``STUDIO_TRAIN_NICE`` below the process's main thread. On
    Linux a nice value is per thread, and the threads this one starts (PyTorch's OpenMP workers are
    started by the first parallel region of the thread that runs it) inherit it; counted from the
    main thread, a job started from another job's thread is not lowered twice. Elsewhere, or if
    refused, the body runs unchanged."""
    try:
        nice = int(os.environ.get(NICE, "10"))
    except ValueError:
        nice = 10
    if nice > 0 and hasattr(os, "setpriority"):  # not on Windows
        try:
            wanted = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + nice)
            if wanted > os.getpriority(os.PRIO_PROCESS, threading.get_native_id()):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), wanted)
        except OSError as exc:
            log.info("training keeps the app's priority: %s", exc)
    body(*args)


class JobBusy(RuntimeError):
    """Another training is running in this process."""


class Launcher(Protocol):
    """Sends a run that trains on other processes, then follows it through its run directory
    (studio.launch.remote, which the studio and the CLI pass in; training knows no launcher)."""

    def refuse_unready(self, launch) -> None: ...
    def send(self, plan: Plan, run: Run, resuming: bool = False): ...
    def follow(self, handle, run: Run, tracker: Tracker, stop_event: threading.Event) -> None: ...
    def running_job(self, run: Run): ...


class JobManager:
    def __init__(self, runs_root: str | Path | None = None, launcher: Launcher | None = None):
        self.runs_root = Path(runs_root) if runs_root else None
        self.launcher = launcher  # None: every run trains in this process
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._tracker = Tracker()
        self.run: Run | None = None
        self.main_process = True
        self.elsewhere = False  # the run trains on a Ray cluster: this process only follows it
        faults.settle(self.runs_root)  # runs whose process was killed: status.json says so

    # -- the narrow interface ----------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Progress:
        return self._tracker.snapshot()

    def stop(self) -> bool:
        if not self.active:
            return False
        self._stop.set()
        self._tracker.stopping("stopping after the current step")
        return True

    def wait(self, timeout: float | None = None) -> Progress:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.snapshot()

    def start(
        self,
        config: RunConfig | None,
        resume: str | Path | None = None,
        background: bool = True,
        run_dir: str | Path | None = None,
        main_process: bool = True,
    ) -> Run:
        """Validate and plan (raising ConfigError), then train in a thread, or here if not background.

        ``run_dir``: an existing run directory to train into (a distributed launch's other
        processes get the one the main process created).
        """
        with self._lock:
            if self.active:
                raise JobBusy(
                    f"a training is already running ({self.run.id if self.run else '?'}); stop it or wait for it"
                )
            resuming = resume is not None
            if resuming:
                run = open_run(resume, self.runs_root)
                config = run.config()
            plan = plan_run(config)
            reward_model_check(plan.config, self.runs_root)
            remote = self._elsewhere(plan.config)
            if remote:  # trains on other processes: their memory, not this one's; the cluster must answer
                self.launcher.refuse_unready(plan.config.launch)
            elif main_process:  # before any big allocation: what does not fit memory or disk is refused
                est = admit(plan)
                written = disk.written_bytes(run) if resuming else 0
                admit_disk(plan, est, self.runs_root or runs_root(), written)
            else:
                admit(plan)
            if resuming and main_process:  # other processes follow the main one's verdict
                problems = resume_problems(run, plan)
                if problems:
                    raise ConfigError(problems)
            elif run_dir is not None:
                run = open_run(run_dir, self.runs_root)
            else:
                run = new_run(config, self.runs_root)
            self._prepare(plan, run, resuming, main_process)
            self.elsewhere = remote
            body, args = (
                (self._follow, (self.launcher.send(plan, run, resuming), run))
                if remote
                else (self._train, (plan, run, resuming))
            )
            if background:
                self._in_background(body, args, f"train-{run.id}")
            else:
                self._thread = None
        if not background:
            body(*args)
        return run

    def follow_again(self) -> Run | None:
        """After a restart: follow the run a previous studio sent to a Ray cluster, if its job still
        runs, as that studio did (live curves, Stop); the run, or None."""
        with self._lock:
            if self.active or self.launcher is None:
                return None
            for run in list_runs(self.runs_root):
                handle = self.launcher.running_job(run)
                if handle is None:
                    continue
                self._begin(run, main_process=True)
                self.elsewhere = True
                self._in_background(self._follow, (handle, run), f"follow-{run.id}")
                log.info("following run %s again on its cluster (%s)", run.id, handle.job_id)
                return run
        return None

    def _follow(self, handle, run: Run) -> None:
        """A run sent elsewhere: mirror its run directory until its job ends (studio.launch.remote)."""
        self.launcher.follow(handle, run, self._tracker, self._stop)

    def _elsewhere(self, config: RunConfig) -> bool:
        """Whether the run trains on other processes, which this one only follows. A process that is
        one of them (accelerate's or Ray's, with WORLD_SIZE set) trains; without a launcher, a run
        meant for elsewhere is refused instead of trained here unasked."""
        if not trains_elsewhere(config):
            return False
        if self.launcher is None:
            raise ConfigError(
                [
                    Problem(
                        "on",
                        f"this job manager trains here only; send a run to {config.launch.on} "
                        "through the studio or `python -m studio train --on ...`",
                    )
                ]
            )
        return True

    def _begin(self, run: Run, main_process: bool) -> None:
        """``run`` becomes the job this manager reports on, with a fresh stop flag and tracker; a
        resumed run's elapsed time counts its earlier segments."""
        self.run, self.main_process = run, main_process
        self._stop = threading.Event()
        earlier = segment_totals(read_segments(run.path))["train_seconds"]
        self._tracker = Tracker(run.id, str(run.path), earlier_s=earlier)

    def _in_background(self, body, args: tuple, name: str) -> None:
        thread = threading.Thread(target=_lowered, args=(body, *args), name=name, daemon=True)
        thread.start()  # before it is published: wait() from another thread never joins an unstarted one
        self._thread = thread

    def _prepare(self, plan: Plan, run: Run, resuming: bool, main_process: bool) -> None:
        self._begin(run, main_process)
        self._tracker.update(
            status="starting", phase="loading", total_steps=plan.total_steps, message="loading the model"
        )
        for problem in plan.warnings:
            self._tracker.warn(str(problem))
        if resuming:
            self._tracker.update(metrics=run.metrics())
        if main_process:
            run.set_status(status="starting", pid=os.getpid(), host=HOST, started=time.time(), error="")

    # -- the job body --------------------------------------------------------------------------
    def _train(self, plan: Plan, run: Run, resuming: bool) -> None:

        main = self.main_process
        handler = attach_log(run) if main else None
        tracker = self._tracker
        try:
            if main:
                write_records(run, plan, environment(plan))
                self._record_estimate(plan, run)
            log.info("run %s: %s on %s, %s", run.id, plan.config.train.method, plan.device.describe(), plan.precision)
            callbacks, peak = self._callbacks(plan, run)
            trainer = build_trainer(plan, str(run.checkpoints_dir), callbacks)
            peak.reset()  # the peak of loading (reading the checkpoint file) is not training memory
            trainable, total = trainable_parameters(trainer.model)
            log.info("trainable parameters: %d of %d (%.3f%%)", trainable, total, 100 * trainable / total)
            checkpoint = run.last_checkpoint() if resuming else None
            if checkpoint is not None:
                step = int(checkpoint.name.split("-")[-1])
                if main:
                    trim_after(run, step)
                tracker.update(metrics=[m for m in run.metrics() if m.get("step", 0) <= step])
                log.info("resuming from %s (step %d)", checkpoint, step)
            tracker.update(status="running", message="training")
            if main:
                run.set_status(status="running", total_steps=plan.total_steps, pid=os.getpid(), host=HOST)
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
            self._finish(trainer, run, callbacks[0], peak)
        except Exception as exc:  # noqa: BLE001 - the job thread's last word: record why it died
            message = self._failed(run, exc)
            # One line for the person (status, Train tab, CLI); the traceback only in train.log, at DEBUG.
            log.info("run %s failed: %s", run.id, message)
            if handler is not None:
                log_traceback(handler, exc)
        finally:
            trackers.finish(plan.config.train.report_to)
            if handler is not None:
                logging.getLogger().removeHandler(handler)
                handler.close()

    def _failed(self, run: Run, exc: BaseException) -> str:
        """One line of cause in the tracker and status.json; a half-written checkpoint removed
        first (on a full disk that also frees the space status.json needs, and leaves only the
        complete checkpoints for the cause to name)."""
        if self.main_process:
            faults.drop_partial(run)
        message = faults.cause(exc, run, self._tracker.snapshot().step)
        self._tracker.update(status="failed", error=message, message="failed")
        if not self.main_process:
            return message
        try:
            run.set_status(status="failed", error=message, ended=time.time())
        except OSError as err:
            log.error("could not record the failure in %s: %s", run.path / "status.json", err)
        return message

    def _callbacks(self, plan: Plan, run: Run):

        peak = PeakMemory().start()
        segments = SegmentLog(run.path, hardware(plan)) if self.main_process else None
        cycle = generation_cycle(plan.config)
        callbacks = [MetricsCallback(self._tracker, run.metrics_path, self._stop, peak.peak, segments, cycle)]
        prompts = plan.config.probes.prompts()
        if prompts and METHODS[plan.config.train.method].scorer:  # a score head answers nothing to probe
            log.info("probe prompts skipped: a %s run scores answers and writes none", plan.config.train.method)
            prompts = []
        if prompts:
            callbacks.append(
                ProbeCallback(
                    plan.tokenizer, prompts, run.probes_path, self._tracker, plan.config.probes.probe_max_new_tokens
                )
            )
        return callbacks, peak

    def _record_estimate(self, plan: Plan, run: Run) -> None:

        try:
            est = plan_estimate(plan)
        except (ValueError, RuntimeError) as exc:  # an architecture the estimator cannot build
            log.warning("no memory estimate: %s", exc)
            return
        need = disk.disk_need(est, plan.config, plan.total_steps, vocab_size(plan))  # a full disk: how much to free
        run.write_json("estimate.json", {**est.to_dict(), "disk": need.to_dict()})
        self._tracker.update(estimated_memory_bytes=est.total_bytes)

    def _finish(self, trainer, run: Run, callback, peak) -> None:
        tracker, main = self._tracker, self.main_process
        snapshot = tracker.snapshot()
        step = trainer.state.global_step
        if callback.non_finite_step is not None:
            tracker.update(status="failed", message="stopped: loss is not finite")
            if main:
                run.set_status(status="failed", error=snapshot.error, ended=time.time(), step=step)
            return
        tracker.activity("saving")
        # Every process (FSDP/DeepSpeed gather here); into a side folder the main one renames, so a
        # save cut short (a full disk) never leaves a half-written adapter that looks complete.
        partial = run.path / faults.PARTIAL_ADAPTER
        trainer.save_model(str(partial))
        if main:
            if run.adapter_dir.exists():
                shutil.rmtree(run.adapter_dir)
            partial.replace(run.adapter_dir)
        status = callback.ended or callback.ending(trainer.state)  # a Stop after the last step: completed
        totals = segment_totals(read_segments(run.path))  # every start and resume of the run, not only this one
        summary = {
            "step": step,
            "total_steps": trainer.state.max_steps,
            "train_seconds": totals["train_seconds"] or round(snapshot.elapsed_s, 2),
            "seconds_per_step": snapshot.seconds_per_step,
            "peak_memory_bytes": max(peak.stop(), totals["peak_memory_bytes"] or 0),
            "estimated_memory_bytes": snapshot.estimated_memory_bytes or None,
            "tokens": totals["tokens"],
            "segments": totals["segments"],
        }
        tracker.update(peak_memory_bytes=summary["peak_memory_bytes"])
        if main:
            run.write_json("summary.json", summary)
            run.set_status(status=status, ended=time.time(), **summary)
        log.info("run %s %s at step %d; adapter saved to %s", run.id, status, step, run.adapter_dir)
        tracker.update(status=status, message=f"{status} at step {step}")
