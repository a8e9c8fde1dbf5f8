"""The tracker a run also logged to, and how to open that tracker's dashboard on it.

studio.train.trackers writes the run's tracker.json when training starts (the tracker, where it
wrote, the project and run names); this reads it back for the Runs tab:

    >>> dashboard(Path("runs/20250101-120000-ab12"))
    {'tracker': 'tensorboard', 'place': 'runs/.../tb', 'commands': ['tensorboard --logdir runs/.../tb'], ...}

A run without a tracker has no tracker.json and gets None. Trackio's dashboard is a web app
(``trackio show`` serves it on the first free port from 7860): when one that holds this run is
running on this machine, its address comes back as ``link``.
"""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request
from pathlib import Path

TRACKER_FILE = "tracker.json"
PROJECT = "studio"  # the project (experiment) name in every tracker
TRACKIO_PORTS = range(7860, 7870)  # where `trackio show` looks for a free port first


def dashboard(run_dir: Path, ports=TRACKIO_PORTS) -> dict | None:
    """{tracker, place, commands, note, link} for a run logged to a tracker; None for one that was not."""
    try:
        record = json.loads((Path(run_dir) / TRACKER_FILE).read_text())
    except (OSError, ValueError):
        return None
    name, place = record.get("tracker"), str(record.get("place", ""))
    if name not in _OPENERS or not place:
        return None
    view = {"tracker": name, "place": place, "commands": [], "note": "", "link": None}
    _OPENERS[name](view, record, ports)
    return view


def _tensorboard(view: dict, record: dict, ports) -> None:
    view["commands"] = [f"tensorboard --logdir {shlex.quote(view['place'])}"]
    view["note"] = "TensorBoard serves at http://localhost:6006."


def _mlflow(view: dict, record: dict, ports) -> None:
    place = view["place"]
    if place.startswith(("http://", "https://")):
        view["link"] = place  # a tracking server the user configured
        return
    view["commands"] = [f"mlflow ui --backend-store-uri {shlex.quote(place)}"]
    view["note"] = (
        f"Experiment '{record.get('project', PROJECT)}', run '{record.get('run')}'. `mlflow ui` comes with the full "
        "mlflow package, which caps pyarrow below the studio's: run it from an environment of its own."
    )


def _wandb(view: dict, record: dict, ports) -> None:
    wandb_dir = Path(view["place"]) / "wandb"
    logs = sorted(p for p in wandb_dir.glob("*run-*") if p.is_dir())
    view["commands"] = [f"wandb leet {shlex.quote(str(wandb_dir))}"]  # W&B's own dashboard, in the terminal
    if record.get("mode") == "offline":
        view["commands"] += [f"wandb sync {shlex.quote(str(p))}" for p in logs if p.name.startswith("offline-")]
        view["note"] = "Logged offline: `wandb sync` uploads it to W&B (with WANDB_API_KEY set)."
    else:
        view["note"] = f"Logged online to the W&B project '{record.get('project', PROJECT)}'."


def _trackio(view: dict, record: dict, ports) -> None:
    project = record.get("project", PROJECT)
    view["commands"] = [f"TRACKIO_DIR={shlex.quote(view['place'])} trackio show --project {shlex.quote(project)}"]
    view["note"] = f"Run '{record.get('run')}' in the Trackio project '{project}'."
    view["link"] = trackio_link(project, str(record.get("run")), ports)


def trackio_link(project: str, run: str, ports=TRACKIO_PORTS) -> str | None:
    """The address of a Trackio dashboard on this machine whose ``project`` holds ``run``, if one runs."""
    for port in ports:
        base = f"http://127.0.0.1:{port}"
        try:
            with urllib.request.urlopen(f"{base}/version", timeout=0.5) as answer:
                if "api_transport" not in json.loads(answer.read()):
                    continue  # another web app on that port
            ask = urllib.request.Request(
                f"{base}/api/get_runs_for_project",
                data=json.dumps({"project": project}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(ask, timeout=2) as answer:
                runs = json.loads(answer.read()).get("data") or []
        except (OSError, ValueError, urllib.error.URLError):
            continue  # nothing there, or not a Trackio dashboard
        if any(isinstance(r, dict) and r.get("name") == run for r in runs):
            return f"{base}/?project={project}"
    return None


_OPENERS = {"tensorboard": _tensorboard, "mlflow": _mlflow, "wandb": _wandb, "trackio": _trackio}
