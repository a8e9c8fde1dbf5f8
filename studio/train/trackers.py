"""The experiment trackers a run can also log to, through the trainer's own ``report_to``.

    train:
      report_to: tensorboard      # none | tensorboard | trackio | mlflow | wandb

The studio's own curves (metrics.jsonl) are always written; a tracker is for people who keep
their runs in one across weeks. Its files go inside the run directory, so a run stays one folder:

- tensorboard: run/tb
- mlflow: run/mlflow.db, MLflow's SQLite store (its file store refuses new runs since MLflow 3)
- wandb: run/wandb, offline unless WANDB_API_KEY is set
- trackio: the runs folder's trackio/, one project ("studio") with a run per studio run. Trackio
  reads its folder once per process, on import (trackio.utils.TRACKIO_DIR), and TRL imports it on
  its own import, so the entry points (app.py, ``python -m studio``) call ``point_trackio`` before
  they import the services; its dashboard is made to compare the runs of one project anyway

Where the tracker wrote is recorded in the run's tracker.json; the Runs tab reads it back
(studio.runs.dashboards) to show the command that opens the tracker's dashboard on that run.

The callbacks in transformers read their places from environment variables when training starts,
so ``prepare`` sets them then (never at import). A place the user configured (a shared MLflow
server, W&B online) is kept; a place the studio set for an earlier run in this process is not.
A tracker whose packages are missing is refused before training by studio.train.checks, with the
pip command, instead of failing inside the trainer. ``pip install -r requirements-trackers.txt``
installs all four.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from studio.runs.dashboards import PROJECT, TRACKER_FILE


@dataclass(frozen=True)
class Tracker:
    modules: tuple[str, ...]  # any one of these importable is enough
    packages: str  # what pip installs for it
    needs: tuple[str, ...] = ()  # and all of these too


TRACKERS = {
    "tensorboard": Tracker(("tensorboard", "tensorboardX"), "tensorboard"),
    "trackio": Tracker(("trackio",), "trackio"),
    # The client only (the full `mlflow` caps pyarrow below the studio's); SQLAlchemy and alembic
    # are what its SQLite store needs.
    "mlflow": Tracker(("mlflow",), "mlflow-skinny sqlalchemy alembic", needs=("sqlalchemy", "alembic")),
    "wandb": Tracker(("wandb",), "wandb"),
}

_SET_BY_STUDIO: dict[str, str] = {}  # the environment prepare set, to tell it from the user's


def installed(name: str) -> bool:
    tracker = TRACKERS.get(name)
    if tracker is None:
        return True
    found = importlib.util.find_spec
    return any(found(m) is not None for m in tracker.modules) and all(found(m) is not None for m in tracker.needs)


def pip_command(name: str) -> str:
    """The command that installs a tracker into the Python the studio runs on."""
    return f"{sys.executable} -m pip install {TRACKERS[name].packages}"


def missing_message(name: str) -> str:
    return (
        f"{name} is not installed in the studio's Python: run `{pip_command(name)}` "
        "(all four trackers: `pip install -r requirements-trackers.txt`), or choose none"
    )


def places(name: str, run_dir: Path) -> dict[str, str]:
    """The environment a tracker's callback reads its place (and mode) from."""
    if name == "tensorboard":
        return {"TENSORBOARD_LOGGING_DIR": str(run_dir / "tb")}
    if name == "mlflow":
        return {
            "MLFLOW_TRACKING_URI": f"sqlite:///{(run_dir / 'mlflow.db').resolve()}",
            "MLFLOW_EXPERIMENT_NAME": PROJECT,
        }
    if name == "wandb":
        env = {"WANDB_DIR": str(run_dir), "WANDB_PROJECT": PROJECT, "WANDB_NAME": run_dir.name}
        if not os.environ.get("WANDB_API_KEY"):
            env["WANDB_MODE"] = "offline"
        return env
    return {}  # trackio: its folder is the process's (point_trackio)


def point_trackio(runs_root: str | Path) -> None:
    """For the entry points, before TRL (and with it Trackio) is imported: the studio's Trackio runs
    go to the runs folder's trackio/, unless TRACKIO_DIR already says where."""
    os.environ.setdefault("TRACKIO_DIR", str((Path(runs_root) / "trackio").resolve()))


def prepare(name: str, run_dir: str | Path) -> str:
    """The ``report_to`` value for TrainingArguments, with the tracker's place set to the run folder
    and recorded in the run's tracker.json."""
    if name == "none":
        return "none"
    if not installed(name):
        raise ValueError(f"report_to: {missing_message(name)}")
    run_dir = Path(run_dir)
    for key, value in places(name, run_dir).items():
        # TensorBoard's directory is per run, so it always follows the run.
        users = key in os.environ and os.environ[key] != _SET_BY_STUDIO.get(key)
        if key == "TENSORBOARD_LOGGING_DIR" or not users:
            os.environ[key] = _SET_BY_STUDIO[key] = value
    record = {"tracker": name, "place": _place(name), "project": PROJECT, "run": run_dir.name}
    if name == "wandb":
        record["mode"] = os.environ.get("WANDB_MODE", "online")
    (run_dir / TRACKER_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return name


def finish(name: str) -> None:
    """End the tracker's run when the training ends, however it ends. The trainer leaves W&B's open
    (for notebooks), so until the process exited its offline log would miss its last records."""
    wandb = sys.modules.get("wandb")
    if name == "wandb" and wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def _place(name: str) -> str:
    """Where the tracker will write: its environment now, or for Trackio the folder it read on import."""
    if name == "trackio":
        return str(importlib.import_module("trackio.utils").TRACKIO_DIR)
    key = {"tensorboard": "TENSORBOARD_LOGGING_DIR", "mlflow": "MLFLOW_TRACKING_URI", "wandb": "WANDB_DIR"}
    return os.environ[key[name]]
