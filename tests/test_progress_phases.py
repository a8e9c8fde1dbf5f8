"""Phases in the progress snapshot: the status line, the ETA and the watchdog know when a run is
evaluating, answering its probe prompts or saving, instead of taking it for a hang (issue 12)."""

import pytest

import studio.train.jobs.progress as progress
from studio.train.jobs.progress import Progress, Tracker, stall_message
from studio.ui.train_views import status_html


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    return now


def steps(tracker: Tracker, clock, first: int, last: int, seconds: float = 1.0, total: int = 10) -> None:
    for step in range(first, last + 1):
        clock[0] += seconds
        tracker.step_done(step, total, step / total)


def test_a_long_probe_round_is_not_a_hang_and_the_status_line_says_probing(clock):
    tracker = Tracker("r", "/runs/r")
    tracker.update(status="running", phase="training")
    steps(tracker, clock, 1, 5)
    tracker.activity("probing")  # answering the probe prompts after the evaluation at step 5
    clock[0] += 150  # generation on a slow CPU: no step, no batch, for 2.5 minutes
    p = tracker.snapshot()
    assert p.phase == "probing" and p.phase_s == pytest.approx(150)
    assert p.stalled == ""  # was: "No step has completed for 2m30s ... data loading may be stuck"
    html = status_html(p)
    assert "probing (step 5/10) for 2m30s" in html
    assert "data loading" not in html


def test_the_watchdog_judges_a_round_against_earlier_rounds_of_its_kind(clock):
    tracker = Tracker()
    tracker.update(status="running", phase="training")
    tracker.activity("probing")  # the base answers before the first step: 20 s
    clock[0] += 20
    tracker.activity("training")
    steps(tracker, clock, 1, 5)
    tracker.activity("probing")
    clock[0] += 150
    assert tracker.snapshot().stalled == ""  # 150 s < 10 x 20 s
    clock[0] += 100
    text = tracker.snapshot().stalled
    assert "Answering the probe prompts at step 5 has shown no progress for 4m10s" in text
    assert "earlier rounds took 0m20s" in text and "data loading" not in text
    # The plain function: an evaluation with no measured round yet is given the first step's allowance.
    p = Progress(status="running", phase="evaluating", seconds_per_step=1.0, step=5)
    assert stall_message(p, 600.0) == ""
    assert "The evaluation at step 5" in stall_message(p, 1000.0)


def test_step_time_leaves_out_rounds_and_the_eta_counts_the_rounds_to_come(clock):
    tracker = Tracker()
    tracker.update(status="running", phase="training")
    tracker.schedule("evaluating", [5, 10])
    tracker.schedule("probing", [5, 10])
    steps(tracker, clock, 1, 5)  # 1 s a step
    tracker.activity("evaluating")
    for _ in range(4):  # four evaluation batches of 5 s: 20 s
        clock[0] += 5
        tracker.activity("evaluating")
    p = tracker.snapshot()
    # Inside the first evaluation: 5 steps left, no round measured yet.
    assert p.phase == "evaluating" and p.eta_s == pytest.approx(5.0)
    assert p.eta_untimed == ["evaluating", "probing"]  # and the status line says the ETA leaves them out
    assert "ETA 0m05s (+ evaluations, probe answers, not timed yet)" in status_html(p)
    tracker.activity("probing")
    clock[0] += 30
    tracker.activity("training")
    steps(tracker, clock, 6, 6)
    p = tracker.snapshot()
    assert p.seconds_per_step == pytest.approx(1.0)  # was 51 s / 5 steps: the rounds counted as steps
    assert p.round_seconds == {"evaluating": pytest.approx(20.0), "probing": pytest.approx(30.0)}
    # 4 steps left at 1 s, then one evaluation (20 s) and one probe round (30 s) at step 10.
    assert p.eta_s == pytest.approx(4 + 20 + 30) and p.eta_untimed == []
    tracker.activity("training")
    clock[0] += 0.5  # half-way through step 7: the ETA keeps moving between steps
    assert tracker.snapshot().eta_s == pytest.approx(53.5)
    steps(tracker, clock, 7, 10)
    tracker.activity("evaluating")
    clock[0] += 8
    p = tracker.snapshot()  # the last evaluation under way: what is left of it, and the last probes
    assert p.eta_s == pytest.approx(12 + 30)
    assert "evaluating (step 10/10) for 0m08s" in status_html(p)


def test_a_real_run_goes_through_its_phases(tiny_config, runs_dir, monkeypatch):
    from studio.train.jobs.manager import JobManager

    seen: list[tuple[str, int]] = []
    switch = Tracker._switch

    def spy(self, phase, now):
        if phase != self._p.phase:
            seen.append((phase, self._p.step))
        switch(self, phase, now)

    monkeypatch.setattr(Tracker, "_switch", spy)
    tiny_config.train.max_steps = 4
    tiny_config.train.batch_size = 2
    tiny_config.data.val_fraction = 0.2
    tiny_config.train.eval_steps = 2
    tiny_config.train.save_steps = 2
    tiny_config.probes.probe_prompts = "Who are you?"
    tiny_config.probes.probe_max_new_tokens = 4
    jobs = JobManager()
    jobs.start(tiny_config)
    done = jobs.wait(300)
    assert done.status == "completed", done.error
    assert seen[:3] == [("loading", 0), ("training", 0), ("probing", 0)]  # the base answers first
    at_two = [phase for phase, step in seen if step == 2]
    assert at_two[:4] == ["evaluating", "saving", "probing", "saving"]  # then training resumes
    assert ("training", 2) in seen and seen[-1] == ("saving", 4)  # the adapter is saved last
    assert set(done.round_seconds) == {"evaluating", "probing", "saving"}
