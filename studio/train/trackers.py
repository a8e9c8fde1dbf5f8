"""The experiment trackers a run can also log to, through the trainer's own ``report_to``.

    train:
      report_to: tensorboard      # none | tensorboard | trackio | mlflow | wandb

The studio's own curves (metrics.jsonl) are always written; a tracker is for people who keep
their runs in one across weeks. Its files go inside the run directory, so a run stays one folder:

- tensorboard: run/tb (``tensorboard --logdir runs/<id>/tb``)
- mlflow: run/mlruns (``mlflow ui --backend-store-uri runs/<id>/mlruns``)
- wandb: run/wandb, offline (``wandb sync runs/<id>/wandb/offline-run-*``) unless WANDB_API_KEY is set
- trackio: run/trackio (``trackio show``, with TRACKIO_DIR pointed there)

The callbacks in transformers read their places from environment variables when training starts,
so ``prepare`` sets them then (never at import); a place the user already configured is kept.
A tracker whose package is missing is refused before training by studio.train.checks, with the
pip command, instead of failing inside the trainer.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tracker:
    modules: tuple[str, ...]  # any one of these importable is enough
    pip: str


TRACKERS = {
    "tensorboard": Tracker(("tensorboard", "tensorboardX"), "pip install tensorboard"),
    "trackio": Tracker(("trackio",), "pip install trackio"),
    "mlflow": Tracker(("mlflow",), "pip install mlflow"),
    "wandb": Tracker(("wandb",), "pip install wandb"),
}


def installed(name: str) -> bool:
    tracker = TRACKERS.get(name)
    return tracker is None or any(importlib.util.find_spec(m) is not None for m in tracker.modules)


def missing_message(name: str) -> str:
    return f"{name} is not installed in this environment: run `{TRACKERS[name].pip}`, or choose none"


def places(name: str, run_dir: Path) -> dict[str, str]:
    """The environment a tracker's callback reads its place (and mode) from."""
    if name == "tensorboard":
        return {"TENSORBOARD_LOGGING_DIR": str(run_dir / "tb")}
    if name == "mlflow":
        return {"MLFLOW_TRACKING_URI": (run_dir / "mlruns").resolve().as_uri(), "MLFLOW_EXPERIMENT_NAME": "studio"}
    if name == "wandb":
        env = {"WANDB_DIR": str(run_dir), "WANDB_PROJECT": "studio", "WANDB_NAME": run_dir.name}
        if not os.environ.get("WANDB_API_KEY"):
            env["WANDB_MODE"] = "offline"
        return env
    if name == "trackio":
        return {"TRACKIO_DIR": str(run_dir / "trackio"), "TRACKIO_PROJECT": "studio"}
    return {}


def prepare(name: str, run_dir: str | Path) -> str:
    """The ``report_to`` value for TrainingArguments, with the tracker's place set to the run folder."""
    if name == "none":
        return "none"
    if not installed(name):
        raise ValueError(f"report_to: {missing_message(name)}")
    run_dir = Path(run_dir)
    for key, value in places(name, run_dir).items():
        # A place the user set (a shared MLflow server, W&B online) wins over the run folder,
        # except TensorBoard's: its directory is per run, so it always follows the run.
        if key == "TENSORBOARD_LOGGING_DIR" or key not in os.environ:
            os.environ[key] = value
    return name
