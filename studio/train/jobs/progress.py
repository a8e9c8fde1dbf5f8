"""The typed snapshot that is the whole contract between a training job and its viewers.

The trainer's callback writes into a :class:`Tracker`; the UI (any tab, any reload) and the
CLI read :meth:`Tracker.snapshot`, a plain :class:`Progress` copy, so nothing on the viewer
side touches the trainer. The snapshot also carries two judgements read off the curves: the
watchdog (no step for much longer than steps have taken) and the overfitting warning (eval
loss rising while train loss falls).

A run goes through phases: ``loading`` (before the first step), ``training``, and the rounds
that hold training at some steps, ``evaluating``, ``probing`` and ``saving``. The tracker times
each round, so the ETA counts the rounds still to come (measured time per round times their
number) and the watchdog judges a long probe round against earlier probe rounds, not against
the step time.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field

from studio.runs.directory import ACTIVE, WAITING

# The watchdog speaks when no step (nor evaluation batch, nor probe) finished for this many
# step times, and never before STALL_FLOOR_S; before the first step it allows FIRST_STEP_S.
STALL_FACTOR = 10
STALL_FLOOR_S = 60.0
FIRST_STEP_S = 900.0
# Phases that hold training at scheduled steps; each is timed per round (per step it runs at).
ROUND_PHASES = ("evaluating", "probing", "saving")
PHASE_WORDS = {
    "evaluating": "the evaluation",
    "probing": "answering the probe prompts",
    "saving": "saving a checkpoint",
}


@dataclass
class Progress:
    run_id: str = ""
    run_dir: str = ""
    status: str = "idle"  # idle, queued, starting, running, stopping, completed, stopped, failed, interrupted
    phase: str = ""  # loading, training, evaluating, probing, saving
    phase_s: float = 0.0  # how long the current phase has gone on
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    seconds_per_step: float | None = None
    since_last_step_s: float = 0.0
    round_seconds: dict[str, float] = field(default_factory=dict)  # measured mean per round of each ROUND_PHASE
    eta_untimed: list[str] = field(default_factory=list)  # round phases still to come, not timed yet: not in eta_s
    peak_memory_bytes: int = 0
    estimated_memory_bytes: int = 0
    message: str = ""
    error: str = ""
    stalled: str = ""  # the watchdog's plain sentence, empty while steps keep coming
    overfitting: str = ""
    warnings: list[str] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)  # the whole curve so far
    probes: list[dict] = field(default_factory=list)  # {"step", "prompt", "answer"}; step 0 is the base

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def waiting(self) -> bool:
        """In the training queue: a viewer keeps polling until it starts."""
        return self.status in WAITING

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def stall_message(p: Progress, idle_s: float) -> str:
    """The watchdog: a plain sentence when no step completed for much longer than usual, else ''."""
    if p.status != "running":
        return ""
    if p.phase in ROUND_PHASES:
        return _round_stall(p, idle_s)
    if p.seconds_per_step is None:
        if idle_s < FIRST_STEP_S:
            return ""
        return (
            f"No step has completed {duration(idle_s)} after training started: the first step may be stuck "
            "(data loading, a hang, or far too little memory). Stop the run and check the log."
        )
    limit = max(STALL_FLOOR_S, STALL_FACTOR * p.seconds_per_step)
    if idle_s < limit:
        return ""
    return (
        f"No step has completed for {duration(idle_s)}, while steps took {p.seconds_per_step:.1f} s so far: "
        "data loading may be stuck, or the process hung. Stop the run if this goes on."
    )


def _round_stall(p: Progress, idle_s: float) -> str:
    """An evaluation, probe or save round is judged against earlier rounds of the same phase."""
    usual = p.round_seconds.get(p.phase)
    if usual is None:  # the first round of its kind (it may include warm-up): as lenient as a first step
        limit = FIRST_STEP_S
    else:
        limit = max(STALL_FLOOR_S, STALL_FACTOR * max(usual, p.seconds_per_step or 0.0))
    if idle_s < limit:
        return ""
    before = f", while earlier rounds took {duration(usual)}" if usual is not None else ""
    return (
        f"{PHASE_WORDS[p.phase].capitalize()} at step {p.step} has shown no progress for {duration(idle_s)}"
        f"{before}: it may be stuck. Stop the run if this goes on."
    )


def overfitting_message(metrics: list[dict], window: int = 3) -> str:
    """A warning when the last evaluations rose while the train loss over the same span fell."""
    evals = [(m["step"], m["eval_loss"]) for m in metrics if m.get("eval_loss") is not None]
    if len(evals) < window:
        return ""
    recent = evals[-window:]
    rising = all(b[1] > a[1] for a, b in zip(recent, recent[1:], strict=False))
    if not rising:
        return ""
    first_step, last_step = recent[0][0], recent[-1][0]

    def train_mean(lo: int, hi: int) -> float | None:
        values = [m["loss"] for m in metrics if "loss" in m and lo < m["step"] <= hi]
        return sum(values) / len(values) if values else None

    span = max(1, (last_step - first_step) // (window - 1))
    before, after = train_mean(first_step - span, first_step), train_mean(last_step - span, last_step)
    if before is None or after is None or after >= before:
        return ""
    return (
        f"Possible overfitting: eval loss rose from {recent[0][1]:.4f} (step {first_step}) to {recent[-1][1]:.4f} "
        f"(step {last_step}) while train loss fell from {before:.4f} to {after:.4f}. Consider fewer epochs, "
        "a lower learning rate, more data, or early stopping."
    )


class Tracker:
    """Thread-safe holder of one run's progress, with the timing of its phases."""

    def __init__(self, run_id: str = "", run_dir: str = "", earlier_s: float = 0.0):
        """``earlier_s``: the time the run trained before this start (a resume's earlier segments),
        so its elapsed time goes on from there instead of starting again at zero."""
        self._lock = threading.Lock()
        self._p = Progress(run_id=run_id, run_dir=run_dir)
        self.earlier_s = earlier_s
        self._started = time.monotonic()
        self._last_activity = self._started
        self._first_step_at: float | None = None
        self._first_step = 0
        self._phase_since = self._started
        self._spent: dict[str, dict[int, float]] = {phase: {} for phase in ROUND_PHASES}  # step -> seconds
        self._held = 0.0  # seconds in round phases since the first step: not step time
        self._schedule: dict[str, list[int]] = {}

    def update(self, **fields) -> None:
        with self._lock:
            phase = fields.pop("phase", None)
            for key, value in fields.items():
                setattr(self._p, key, value)
            if phase is not None:
                self._switch(phase, time.monotonic())
            if fields.get("status") == "running" and self._first_step_at is None:
                self._last_activity = time.monotonic()  # loading is over; the first step starts now

    def stopping(self, message: str) -> None:
        """A Stop: "stopping" while the run is active; a run that already ended keeps its end (a Stop
        that raced the end must not leave a finished run "stopping", polled for ever)."""
        with self._lock:
            if self._p.status in ACTIVE:
                self._p.status, self._p.message = "stopping", message

    def warn(self, message: str) -> None:
        with self._lock:
            if message not in self._p.warnings:
                self._p.warnings.append(message)

    def activity(self, phase: str | None = None) -> None:
        """Something finished that is not a step (an evaluation batch, a probe): not stuck.

        With ``phase``, the run enters that phase (or stays in it): a round ends when the next
        phase begins, and its time is counted to the step it ran at."""
        with self._lock:
            now = time.monotonic()
            self._last_activity = now
            if phase is not None:
                self._switch(phase, now)

    def schedule(self, phase: str, steps) -> None:
        """The steps after which a round of ``phase`` will run (evaluations, probes, saves)."""
        with self._lock:
            self._schedule[phase] = sorted(set(steps))

    def _switch(self, phase: str, now: float) -> None:
        p = self._p
        if phase == p.phase:
            return
        if p.phase in ROUND_PHASES:
            spent = now - self._phase_since
            rounds = self._spent[p.phase]
            rounds[p.step] = rounds.get(p.step, 0.0) + spent
            if self._first_step_at is not None:
                self._held += spent
        p.phase, self._phase_since = phase, now

    def add_metrics(self, record: dict) -> None:
        with self._lock:
            self._p.metrics.append(record)
            if "eval_loss" in record:
                self._p.overfitting = overfitting_message(self._p.metrics)

    def add_probes(self, answers: list[dict]) -> None:
        with self._lock:
            self._p.probes.extend(answers)

    def step_done(self, step: int, total: int, epoch: float) -> None:
        """Record a finished optimizer step and derive the step time (rounds not counted)."""
        now = time.monotonic()
        with self._lock:
            self._switch("training", now)
            if self._first_step_at is None:
                # The first step includes warm-up; time the rest from its end.
                self._first_step_at, self._first_step, self._held = now, step, 0.0
            p = self._p
            p.step, p.total_steps, p.epoch = step, total, epoch
            self._phase_since = now  # the next step starts now
            done = step - self._first_step
            if done > 0:
                p.seconds_per_step = (now - self._first_step_at - self._held) / done
            elif step > 0 and p.seconds_per_step is None:
                p.seconds_per_step = now - self._last_activity
            self._last_activity = now

    def _eta(self, p: Progress, now: float) -> float | None:
        """Steps left times the step time, plus each scheduled round left times its measured time."""
        if p.seconds_per_step is None or not p.total_steps:
            return None
        eta = max(0, p.total_steps - p.step) * p.seconds_per_step
        if p.phase == "training" and p.step < p.total_steps:
            eta -= min(p.seconds_per_step, now - self._phase_since)  # the step under way
        current = ROUND_PHASES.index(p.phase) if p.phase in ROUND_PHASES else len(ROUND_PHASES)
        for phase, usual in p.round_seconds.items():
            later = [s for s in self._schedule.get(phase, ()) if s > p.step]
            # Rounds at this step run in ROUND_PHASES order: those after the current one are still to come.
            pending = p.step in self._schedule.get(phase, ()) and ROUND_PHASES.index(phase) > current
            eta += usual * (len(later) + pending)
            if p.phase == phase:
                eta += max(0.0, usual - self._spent[phase].get(p.step, 0.0) - (now - self._phase_since))
        return max(0.0, eta)

    def snapshot(self) -> Progress:
        with self._lock:
            p = copy.deepcopy(self._p)
            last, now = self._last_activity, time.monotonic()
            p.round_seconds = {
                phase: sum(rounds.values()) / len(rounds) for phase, rounds in self._spent.items() if rounds
            }
            p.phase_s = now - self._phase_since
            p.eta_s = self._eta(p, now)
            p.eta_untimed = [
                phase
                for phase in ROUND_PHASES
                if phase not in p.round_seconds and any(s >= p.step for s in self._schedule.get(phase, ()))
            ]
        p.elapsed_s = self.earlier_s + now - self._started
        p.since_last_step_s = now - last
        p.stalled = stall_message(p, p.since_last_step_s)
        return p
