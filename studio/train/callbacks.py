"""The trainer's side of the progress contract: metrics out, stop in.

:class:`MetricsCallback` appends every log and evaluation to the run's ``metrics.jsonl`` (one
JSON object per line, flushed, so a killed process loses at most the line being written) and
mirrors them into the job's :class:`~studio.train.jobs.progress.Tracker`. Stop is cooperative: the job sets
an event, and the callback turns it into ``control.should_training_stop`` at the next step and
saves a checkpoint there, so a stopped run resumes exactly where it stopped (a GRPO run that
trains several steps on one generated batch stops at the end of that batch, ``stop_every``). A loss that turns
NaN or infinite stops the run before it can be saved over the last good checkpoint.

It also tells the tracker which phase the run is in (training, or an evaluation or checkpoint
round after a step; probes are the ProbeCallback's) and at which steps those rounds will come,
so the ETA counts them; and, given a :class:`~studio.runs.segments.SegmentLog`, it records this
segment's steps, time, tokens and peak memory after every step.

Under a distributed launch every process runs the callback (so all stop together on a NaN,
whose logged value is the mean over processes), but only the main one writes files.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
from transformers import TrainerCallback

from studio.runs.segments import SegmentLog
from studio.train.jobs.progress import Tracker

# Keys only the closing summary log carries (every step log also carries train_runtime).
SUMMARY_KEYS = {"train_loss", "train_samples_per_second"}


def round_steps(strategy, every, max_steps: int) -> list[int]:
    """The steps after which an every-N-steps round (evaluation, save) runs: each multiple, and the last."""
    if str(getattr(strategy, "value", strategy)) != "steps" or not every or not max_steps:
        return []
    every = int(every)
    return sorted({*range(every, max_steps + 1, every), max_steps}) if every > 0 else []


class MetricsCallback(TrainerCallback):
    def __init__(
        self,
        tracker: Tracker,
        metrics_path: Path,
        stop_event: threading.Event | None = None,
        peak_memory: Callable[[], int] | None = None,
        segments: SegmentLog | None = None,
        stop_every: int = 1,
    ):
        self.tracker = tracker
        self.metrics_path = Path(metrics_path)
        self.stop_event = stop_event or threading.Event()
        self.peak_memory = peak_memory
        self.segments = segments
        self.stop_every = max(1, stop_every)  # Stop waits for a step that is a multiple (GRPO's cycle)
        self.non_finite_step: int | None = None
        self.ended = ""  # completed, stopped or failed, once the Trainer has ended
        self._t0 = time.monotonic()
        self._last_tokens = (0, self._t0)

    # -- writing ---------------------------------------------------------------------------------
    def _append(self, record: dict) -> None:
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        self.tracker.add_metrics(record)

    # -- trainer events --------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        self.tracker.update(status="running", phase="training", total_steps=state.max_steps, step=state.global_step)
        self.tracker.schedule("evaluating", round_steps(args.eval_strategy, state.eval_steps, state.max_steps))
        self.tracker.schedule("saving", round_steps(args.save_strategy, state.save_steps, state.max_steps))
        # The curve's clock starts where the segment's does (not when the trainer was being built),
        # so a resumed run's first point, earlier segments' time plus its own, never falls behind
        # the last point of the segment before it.
        self._t0 = time.monotonic()
        self._last_tokens = (state.num_input_tokens_seen, self._t0)
        if self.segments is not None and state.is_world_process_zero:
            self.segments.begin(state.global_step, state.num_input_tokens_seen)

    def on_step_end(self, args, state, control, **kwargs):
        self.tracker.step_done(state.global_step, state.max_steps, float(state.epoch or 0.0))
        peak = self.peak_memory() if self.peak_memory is not None else None
        if peak is not None:
            self.tracker.update(peak_memory_bytes=peak)
        if self.segments is not None and state.is_world_process_zero:
            self.segments.update(state.global_step, state.num_input_tokens_seen, peak)
        # _stop_agreed first: on several processes every one must take part in it at every step
        if self._stop_agreed(args) and not control.should_training_stop and self._may_stop(state.global_step):
            control.should_training_stop = True
            control.should_save = True  # a checkpoint at the stop step: resume continues from here
            self.tracker.update(status="stopping", message="stopping after this step")
        # The default flow callback ran first: it has decided whether this step evaluates or saves.
        if control.should_evaluate:
            self.tracker.activity("evaluating")
        elif control.should_save:
            self.tracker.activity("saving")
        return control

    def _stop_agreed(self, args) -> bool:
        """Whether to stop after this step; several processes all agree (any one was asked), so none
        runs a step the others skipped and waits on it for ever."""
        stop = self.stop_event.is_set()
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return stop
        flag = torch.tensor([float(stop)], device=args.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def _may_stop(self, step: int) -> bool:
        """True at a step where a checkpoint resumes exactly; else the tracker says when it stops."""
        if step % self.stop_every == 0:
            return True
        until = step + self.stop_every - step % self.stop_every
        self.tracker.update(status="stopping", message=f"stopping after step {until}, the end of this generated batch")
        return False

    def on_prediction_step(self, args, state, control, **kwargs):
        self.tracker.activity("evaluating")

    def on_evaluate(self, args, state, control, **kwargs):
        self.tracker.activity("saving" if control.should_save else "training")

    def on_save(self, args, state, control, **kwargs):
        self.tracker.activity("training")

    def on_train_end(self, args, state, control, **kwargs):
        self.ended = self.ending(state)
        if self.segments is None or not state.is_world_process_zero:
            return
        peak = self.peak_memory() if self.peak_memory is not None else None
        self.segments.end(self.ended, state.global_step, state.num_input_tokens_seen, peak)

    def ending(self, state) -> str:
        """How the training ended, decided once, when the Trainer ends (the job reports the same).
        A Stop that came during or after the last step (its evaluation, probes or save) cut nothing
        short: the run completed. Were it "stopped", Resume would offer its checkpoint at max_steps,
        and the Trainer, resumed there, trains one step past max_steps before it checks."""
        if self.non_finite_step is not None:
            return "failed"
        if self.stop_event.is_set() and state.global_step < state.max_steps:
            return "stopped"
        return "completed"

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        if SUMMARY_KEYS & logs.keys():
            return control  # the closing summary is written by the job, not as a curve point
        loss = logs.get("loss")
        if isinstance(loss, (int, float)) and not math.isfinite(loss):
            self._non_finite(state, control, float(loss))
        if state.is_world_process_zero:
            self._record(state, logs)
        return control

    def _record(self, state, logs: dict) -> None:
        record = {"step": state.global_step, "epoch": round(float(state.epoch or 0.0), 4)}
        record["time"] = round(self.tracker.earlier_s + time.monotonic() - self._t0, 3)  # a resume goes on
        for key, value in logs.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                record[key] = float(value)
        tokens = state.num_input_tokens_seen
        last_tokens, last_time = self._last_tokens
        now = time.monotonic()
        if tokens > last_tokens and now > last_time and "loss" in record:
            record["tokens_per_s"] = round((tokens - last_tokens) / (now - last_time), 2)
            self._last_tokens = (tokens, now)
        self._append(record)
        update = {key: record[key] for key in ("loss", "learning_rate", "grad_norm", "tokens_per_s") if key in record}
        self.tracker.update(**update)

    def _non_finite(self, state, control, loss: float) -> None:
        self.non_finite_step = state.global_step
        control.should_training_stop = True
        control.should_save = False  # keep the last good checkpoint as the newest
        self.tracker.update(
            error=f"loss became {loss} at step {state.global_step}; the run was stopped and the last good "
            "checkpoint kept. Lower the learning rate, set max_grad_norm (e.g. 1.0), or use fp32."
        )
