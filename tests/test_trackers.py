"""Trackers: the trainer's own ``report_to`` writes into the run folder, and what a tracker's own
reader finds there equals metrics.jsonl; a tracker that is not installed is refused before training."""

import json
import os

import pytest

from studio.config import TRACKERS, RunConfig
from studio.train import checks, trackers


def test_every_tracker_choice_is_known():
    assert set(TRACKERS) == {"none", *trackers.TRACKERS}


def test_a_missing_tracker_is_refused_before_training_with_the_pip_command():
    missing = [name for name in trackers.TRACKERS if not trackers.installed(name)]
    if not missing:
        pytest.skip("every tracker is installed here")
    config = RunConfig()
    config.train.report_to = missing[0]
    problems = [p for p in checks.validate(config) if p.field == "report_to"]
    assert problems and problems[0].level == "error"
    assert trackers.TRACKERS[missing[0]].pip in problems[0].message
    with pytest.raises(ValueError, match="report_to"):
        trackers.prepare(missing[0], "/tmp/nowhere")


def test_none_needs_nothing_and_sets_nothing(monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    config = RunConfig()
    assert not [p for p in checks.validate(config) if p.field == "report_to"]
    assert trackers.prepare("none", "/tmp/run") == "none"
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ


def test_places_are_inside_the_run_and_wandb_is_offline_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run = tmp_path / "run"
    assert trackers.places("tensorboard", run) == {"TENSORBOARD_LOGGING_DIR": str(run / "tb")}
    assert trackers.places("mlflow", run)["MLFLOW_TRACKING_URI"] == (run / "mlruns").resolve().as_uri()
    wandb = trackers.places("wandb", run)
    assert wandb["WANDB_DIR"] == str(run) and wandb["WANDB_MODE"] == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert "WANDB_MODE" not in trackers.places("wandb", run)


def test_tensorboard_scalars_read_back_equal_metrics_jsonl(make_run, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    run = make_run(report_to="tensorboard", max_steps=4)
    assert (run.path / "tb").is_dir(), "the event files belong inside the run folder"
    events = EventAccumulator(str(run.path / "tb"))
    events.Reload()
    logged = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    losses = {row["step"]: row["loss"] for row in logged if "loss" in row}
    assert len(losses) == 4
    for tag, key in (("train/loss", "loss"), ("train/learning_rate", "learning_rate")):
        board = {e.step: e.value for e in events.Scalars(tag)}
        mine = {row["step"]: row[key] for row in logged if key in row}
        assert board.keys() == mine.keys()
        assert all(board[s] == pytest.approx(mine[s], rel=1e-6) for s in mine)  # float32 in the event file
