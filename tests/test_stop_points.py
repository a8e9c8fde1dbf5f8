"""Wherever Stop lands, a run trains max_steps steps, each once (issue 32).

A Stop pressed during a step stops the run after that step, with a checkpoint there, and Resume
trains the rest. A Stop that lands during or after the last step (its evaluation, probes or save,
or the adapter's save) finds nothing left to stop: the run completed. It used to be recorded as
stopped, so Resume was offered, and the Trainer resumed from the checkpoint at max_steps trained a
step past it (summary.json said step 7 of a 6-step run).

Each case presses Stop from inside the training thread at one point (a callback, or a wrapper
around the probes or the job's end), so where it lands does not depend on timing.
"""

import json
from collections import Counter

import pytest
from transformers import TrainerCallback

from studio.runs.segments import read_segments
from studio.schema import ConfigError
from studio.services import Studio
from studio.train.jobs.manager import JobManager
from studio.train.probes import ProbeCallback

from .conftest import tiny_recipe

MAX_STEPS = 4  # evaluations, probes and checkpoints at steps 2 and 4


class StopAt(TrainerCallback):
    """Presses Stop once, in the event ``event`` at global step ``step`` (on_step_begin at
    step n: while step n + 1 trains)."""

    def __init__(self, jobs: JobManager, event: str, step: int, pressed: list):
        self.jobs, self.event, self.step, self.pressed = jobs, event, step, pressed

    def _at(self, event: str, state) -> None:
        if (event, state.global_step) == (self.event, self.step) and not self.pressed:
            self.pressed.append(self.jobs.stop())

    def on_step_begin(self, args, state, control, **kwargs):
        self._at("step", state)

    def on_evaluate(self, args, state, control, **kwargs):
        self._at("evaluate", state)

    def on_save(self, args, state, control, **kwargs):
        self._at("save", state)


def press_stop_at(monkeypatch, jobs: JobManager, event: str, step: int) -> list:
    """Stop pressed once, at ``event`` of ``step`` of the first segment; the list of presses."""
    pressed: list = []
    if event == "probes":  # while the probe prompts are answered at an evaluation
        record = ProbeCallback._record

        def probing(self, model, at, *args, **kwargs):
            if at == step and not pressed:
                pressed.append(jobs.stop())
            return record(self, model, at, *args, **kwargs)

        monkeypatch.setattr(ProbeCallback, "_record", probing)
    elif event == "finish":  # after the Trainer ended, while the job saves the adapter
        finish = JobManager._finish

        def finishing(self, *args):
            if not pressed:
                pressed.append(jobs.stop())
            return finish(self, *args)

        monkeypatch.setattr(JobManager, "_finish", finishing)
    elif event == "ended":  # the run ended and says so; the job's thread has not yet returned
        train = JobManager._train

        def training(self, *args):
            train(self, *args)
            pressed.append(jobs.stop())

        monkeypatch.setattr(JobManager, "_train", training)
    else:
        callbacks = JobManager._callbacks

        def with_stop(self, plan, run):
            found, peak = callbacks(self, plan, run)
            return [*found, StopAt(jobs, event, step, pressed)], peak

        monkeypatch.setattr(JobManager, "_callbacks", with_stop)
    return pressed


def steps_once(run) -> None:
    """metrics.jsonl: each step's train log and evaluation at most once, the last at max_steps."""
    metrics = run.metrics()
    logged = Counter((m["step"], "eval" if "eval_loss" in m else "train") for m in metrics)
    assert max(logged.values()) == 1, logged
    assert sorted(s for s, kind in logged if kind == "train") == list(range(1, MAX_STEPS + 1))
    assert max(m["step"] for m in metrics) == MAX_STEPS


# (event, step, the step a Stop there ends the first segment at, how that segment ends)
POINTS = [
    ("step", 2, 3, "stopped"),  # during step 3
    ("save", 2, 3, "stopped"),  # during the save at step 2
    ("evaluate", 2, 3, "stopped"),  # during the evaluation at step 2
    ("probes", 2, 3, "stopped"),  # during the probes at step 2
    ("step", 3, 4, "completed"),  # during the last step
    ("evaluate", 4, 4, "completed"),  # during the last evaluation
    ("probes", 4, 4, "completed"),  # during the last probes
    ("save", 4, 4, "completed"),  # during the last save
    ("finish", 0, 4, "completed"),  # after the last step, while the adapter is saved
    ("ended", 0, 4, "completed"),  # after the job recorded its end (the snapshot stayed "stopping")
]


@pytest.mark.parametrize(("event", "step", "ended_at", "how"), POINTS, ids=[f"{p[0]}-{p[1]}" for p in POINTS])
def test_a_stop_anywhere_trains_max_steps_each_once(tiny_model_dir, runs_dir, monkeypatch, event, step, ended_at, how):
    config = tiny_recipe(
        tiny_model_dir,
        max_steps=MAX_STEPS,
        save_steps=2,
        eval_steps=2,
        val_fraction=0.25,
        probe_prompts="Say hi.",
        probe_max_new_tokens=2,
    )
    jobs = JobManager()
    pressed = press_stop_at(monkeypatch, jobs, event, step)
    run = jobs.start(config)
    first = jobs.wait(300)
    assert pressed == [True], "Stop was not pressed where the case says"
    assert first.step == ended_at and first.status == run.status()["status"], first.error
    if Studio(runs_dir).resumable_runs() == [run.id]:  # the Train tab offers Resume: a person presses it
        jobs.start(None, resume=run.path)
        assert jobs.wait(300).status == "completed"

    summary = json.loads((run.path / "summary.json").read_text())
    segments = read_segments(run.path)
    assert summary["step"] == summary["total_steps"] == MAX_STEPS  # old code: step 5 after a needless resume
    assert sum(s["to_step"] - s["from_step"] for s in segments) == MAX_STEPS  # no step twice, none lost
    assert [s["ended"] for s in segments] == ([how, "completed"] if how == "stopped" else [how])
    assert segments[-1]["to_step"] == MAX_STEPS and run.status()["status"] == "completed"
    if how == "completed":  # nothing was left to train: a Resume asked for anyway is refused
        with pytest.raises(ConfigError, match="already completed"):
            jobs.start(None, resume=run.path)
    steps_once(run)


def test_a_run_recorded_stopped_at_max_steps_is_not_resumed_past_it(tiny_model_dir, runs_dir):
    """A run that older code recorded as stopped (or that failed or was killed while its adapter
    was saved) has its last checkpoint at max_steps: Resume is refused, naming why."""
    jobs = JobManager()
    run = jobs.start(tiny_recipe(tiny_model_dir, max_steps=2, save_steps=2))
    assert jobs.wait(300).status == "completed"
    for status in ("stopped", "failed", "interrupted"):
        run.set_status(status=status)
        assert Studio(runs_dir).resumable_runs() == []
        with pytest.raises(ConfigError, match=r"trained all its steps \(checkpoint-2 is at max_steps\)"):
            jobs.start(None, resume=run.path)
    assert [m["step"] for m in run.metrics() if "loss" in m] == [1, 2] and run.steps_left() == 0
