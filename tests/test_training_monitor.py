"""What the snapshot says while a run goes: the watchdog and the overfitting warning."""

from studio.train.jobs.progress import Progress, Tracker, overfitting_message, stall_message


def test_watchdog_speaks_only_when_steps_stop_coming():
    p = Progress(status="running", seconds_per_step=2.0)
    assert stall_message(p, 15.0) == ""  # slower than usual, but within reason
    text = stall_message(p, 200.0)
    assert "No step has completed for 3m20s" in text and "2.0 s" in text
    assert stall_message(Progress(status="running"), 120.0) == ""  # the first step may take a while
    assert "first step" in stall_message(Progress(status="running"), 1000.0)
    assert stall_message(Progress(status="completed", seconds_per_step=2.0), 1e6) == ""


def test_tracker_counts_evaluation_batches_as_activity(monkeypatch):
    import studio.train.jobs.progress as progress

    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    tracker = Tracker()
    tracker.update(status="running")
    for step in (1, 2, 3):
        now[0] += 1.0
        tracker.step_done(step, 10, 0.1)
    now[0] += 300
    assert "No step has completed" in tracker.snapshot().stalled
    tracker.activity("evaluating")
    assert tracker.snapshot().stalled == "" and tracker.snapshot().phase == "evaluating"


def curve(evals: list[float], train: list[float]) -> list[dict]:
    metrics = [{"step": i + 1, "loss": v} for i, v in enumerate(train)]
    metrics += [{"step": 10 * (i + 1), "eval_loss": v} for i, v in enumerate(evals)]
    return sorted(metrics, key=lambda m: m["step"])


def test_overfitting_needs_eval_rising_while_train_falls():
    falling = [2.0 - 0.04 * i for i in range(40)]
    assert "overfitting" in overfitting_message(curve([1.5, 1.6, 1.7], falling))
    assert overfitting_message(curve([1.7, 1.6, 1.5], falling)) == ""  # eval falls too: fine
    assert overfitting_message(curve([1.5, 1.6, 1.7], [1.0 + 0.01 * i for i in range(40)])) == ""  # both rise
    assert overfitting_message(curve([1.5, 1.6], falling)) == ""  # too few evaluations to say


def test_tracker_raises_the_warning_when_an_evaluation_arrives():
    tracker = Tracker()
    for m in curve([1.5, 1.6, 1.7], [2.0 - 0.04 * i for i in range(40)]):
        tracker.add_metrics(m)
    assert "eval loss rose from 1.5000 (step 10) to 1.7000 (step 30)" in tracker.snapshot().overfitting
