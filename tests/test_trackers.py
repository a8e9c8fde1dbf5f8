"""Trackers: the trainer's own ``report_to`` writes into the run folder, and what a tracker's own
reader finds there equals metrics.jsonl; a tracker that is not installed is refused before training."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.config import TRACKERS, RunConfig
from studio.runs.dashboards import dashboard
from studio.train import checks, trackers

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = (ROOT / "requirements-trackers.txt").read_text() if (ROOT / "requirements-trackers.txt").exists() else ""


def test_every_tracker_choice_is_known():
    assert set(TRACKERS) == {"none", *trackers.TRACKERS}


def test_a_missing_tracker_is_refused_before_training_with_the_pip_command(monkeypatch):
    # The tracker table is the studio's own: one whose module cannot be found stands for any missing one.
    monkeypatch.setitem(trackers.TRACKERS, "wandb", trackers.Tracker(("studio_no_such_module",), "wandb"))
    config = RunConfig()
    config.train.report_to = "wandb"
    problems = [p for p in checks.validate(config) if p.field == "report_to"]
    assert problems and problems[0].level == "error"
    assert f"{sys.executable} -m pip install wandb" in problems[0].message
    assert "pip install -r requirements-trackers.txt" in problems[0].message
    assert (ROOT / "requirements-trackers.txt").is_file(), "the message names a file that must exist"
    with pytest.raises(ValueError, match="report_to"):
        trackers.prepare("wandb", "/tmp/nowhere")


def test_mlflow_without_its_sqlite_store_is_refused(monkeypatch):
    monkeypatch.setitem(trackers.TRACKERS, "mlflow", trackers.Tracker(("json",), "mlflow-skinny", ("no_such_db",)))
    assert not trackers.installed("mlflow")


def test_requirements_trackers_installs_every_trackers_packages():
    listed = {line.split("#")[0].split("=")[0].split(">")[0].strip().lower() for line in REQUIREMENTS.splitlines()}
    for name, tracker in trackers.TRACKERS.items():
        assert set(tracker.packages.lower().split()) <= listed, name


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
    assert trackers.places("mlflow", run)["MLFLOW_TRACKING_URI"] == f"sqlite:///{(run / 'mlflow.db').resolve()}"
    assert trackers.places("trackio", run) == {}  # its folder is the process's: point_trackio
    wandb = trackers.places("wandb", run)
    assert wandb["WANDB_DIR"] == str(run) and wandb["WANDB_MODE"] == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert "WANDB_MODE" not in trackers.places("wandb", run)


def test_the_entry_points_point_trackio_at_the_runs_folder_before_it_is_imported(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRACKIO_DIR"}
    code = (
        "import sys, studio.cli\n"
        "studio.cli.main(['runs', '--runs-dir', sys.argv[1]])\n"
        "import trackio.utils\n"  # as TRL does on its own import: Trackio reads its folder then
        "print(trackio.utils.TRACKIO_DIR)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == str((tmp_path / "trackio").resolve()), out.stderr[-2000:]


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


@pytest.fixture
def clean_places(monkeypatch, tmp_path):
    """No tracker place from the environment or from an earlier run of this process."""
    for name in trackers.TRACKERS:
        for key in trackers.places(name, tmp_path):
            monkeypatch.setenv(key, "")  # so that the teardown removes what prepare sets
            monkeypatch.delenv(key)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setattr(trackers, "_SET_BY_STUDIO", {})


def test_a_place_the_studio_set_for_an_earlier_run_is_not_kept(clean_places, tmp_path):
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    trackers.prepare("mlflow", tmp_path / "one")
    trackers.prepare("mlflow", tmp_path / "two")
    assert os.environ["MLFLOW_TRACKING_URI"].endswith("two/mlflow.db")
    os.environ["MLFLOW_TRACKING_URI"] = "http://mlflow.example:5000"  # the user's own server wins
    trackers.prepare("mlflow", tmp_path / "two")
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.example:5000"
    assert dashboard(tmp_path / "two") == {
        "tracker": "mlflow",
        "place": "http://mlflow.example:5000",
        "commands": [],
        "note": "",
        "link": "http://mlflow.example:5000",
    }


def logged(run) -> list[dict]:
    return [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]


def mine(run, key: str) -> dict[int, float]:
    return {row["step"]: row[key] for row in logged(run) if key in row}


def assert_same(theirs: dict, ours: dict) -> None:
    assert ours and theirs.keys() == ours.keys()
    assert all(theirs[s] == pytest.approx(ours[s], rel=1e-6) for s in ours), (theirs, ours)


def test_mlflow_metrics_read_back_equal_metrics_jsonl(make_run, clean_places):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    run = make_run(report_to="mlflow", max_steps=3)
    uri = f"sqlite:///{(run.path / 'mlflow.db').resolve()}"
    client = MlflowClient(uri)
    [found] = client.search_runs([client.get_experiment_by_name("studio").experiment_id])
    assert found.info.run_name == run.id
    for key in ("loss", "learning_rate"):
        assert_same({m.step: m.value for m in client.get_metric_history(found.info.run_id, key)}, mine(run, key))
    assert len(mine(run, "loss")) == 3
    view = dashboard(run.path)
    assert view["commands"] == [f"mlflow ui --backend-store-uri {uri}"] and view["link"] is None


def test_wandb_offline_log_read_back_equals_metrics_jsonl(make_run, clean_places):
    pytest.importorskip("wandb")
    run = make_run(report_to="wandb", max_steps=3)
    [log] = (run.path / "wandb").glob("offline-run-*/run-*.wandb")
    # W&B's own reader of its transaction log: `wandb leet inspect --json`, one record a line.
    out = subprocess.run(
        [str(Path(sys.executable).with_name("wandb")), "leet", "inspect", "--json", str(log)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    assert [r["run"]["display_name"] for r in records if r["type"] == "run"] == [run.id]
    assert [r for r in records if r["type"] == "exit"], "the studio ends the W&B run the trainer leaves open"
    for key in ("loss", "learning_rate"):
        board = {h["train/global_step"]: h[f"train/{key}"] for h in history if f"train/{key}" in h}
        assert_same(board, mine(run, key))
    view = dashboard(run.path)
    assert view["commands"] == [f"wandb leet {run.path / 'wandb'}", f"wandb sync {log.parent}"]


def test_trackio_metrics_read_back_equal_metrics_jsonl_and_a_running_dashboard_is_linked(make_run, clean_places):
    pytest.importorskip("trackio")
    from .conftest import free_port

    run = make_run(report_to="trackio", max_steps=3)
    place = json.loads((run.path / "tracker.json").read_text())["place"]
    assert Path(place) == Path(os.environ["TRACKIO_DIR"]).resolve()  # this process's (tests/conftest.py)

    def metric(name: str) -> dict[int, float]:  # Trackio's own reader: `trackio get metric --json`
        cmd = [str(Path(sys.executable).with_name("trackio")), "get", "metric", "--project", "studio"]
        cmd += ["--run", run.id, "--metric", name, "--json"]
        env = {**os.environ, "TRACKIO_DIR": place}
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True, env=env).stdout
        return {v["step"]: v["value"] for v in json.loads(out)["values"]}

    steps = metric("train/global_step")  # Trackio counts its own steps; the trainer's is a metric
    for key in ("loss", "learning_rate"):
        assert_same({int(steps[s]): v for s, v in metric(f"train/{key}").items()}, mine(run, key))

    port = free_port()
    view = dashboard(run.path, ports=[port])
    assert view["commands"] == [f"TRACKIO_DIR={place} trackio show --project studio"] and view["link"] is None
    import trackio  # the dashboard of this process's Trackio folder: the one the run wrote to

    server, *_ = trackio.show(project="studio", open_browser=False, block_thread=False, server_port=port)
    try:
        deadline = time.time() + 30
        while dashboard(run.path, ports=[port])["link"] is None and time.time() < deadline:
            time.sleep(0.2)
        assert dashboard(run.path, ports=[port])["link"] == f"http://127.0.0.1:{port}/?project=studio"
    finally:
        server.close()


def test_the_runs_tab_shows_the_dashboard_command_of_a_tracked_run_and_nothing_for_another(make_run, clean_places):
    from studio.services import Studio
    from studio.ui.runs_tab import tracker_text

    plain = make_run()
    assert dashboard(plain.path) is None
    assert tracker_text(Studio(plain.path.parent).run_view(plain.id)["tracker"]) == ""
    board = make_run(report_to="tensorboard", max_steps=4)
    view = Studio(board.path.parent).run_view(board.id)["tracker"]
    assert view["commands"] == [f"tensorboard --logdir {board.path / 'tb'}"]
    shown = tracker_text(view)
    assert "tensorboard" in shown and f"tensorboard --logdir {board.path / 'tb'}" in shown
