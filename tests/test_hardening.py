"""Issue 13's leftovers, each through the door it was found at.

- the CLI opened run paths anywhere (``eval``, ``export``, ``push``, ``chat``, ``train --resume``):
  now a run resolves inside the runs folder only (``--runs-dir``), as in the app;
- a base model could be any local folder of the server: now only folders inside the runs folder,
  the model caches or the data folders the operator allows (Hub ids stay allowed);
- SIGTERM (a Space restarting) killed a training mid-step: now it stops after the step, keeps a
  checkpoint and reads "interrupted" with its cause, and resumes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from studio.config import RunConfig
from studio.runs.directory import new_run

from .conftest import ROOT, free_port, tiny_recipe

REF = "<run>"
REFUSED_MODEL = "is outside the folders the studio loads models from"


def studio_cli(*args, env_extra=None, timeout=300):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture
def runs(tmp_path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    return folder


@pytest.fixture
def outside_run(tmp_path) -> Path:
    """A folder outside the runs folder that looks like a run, with an adapter and a checkpoint."""
    folder = tmp_path / "elsewhere" / "fake-run"
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    (folder / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-1" / "trainer_state.json").write_text('{"global_step": 1}')
    RunConfig().save(folder / "config.yaml")
    (folder / "status.json").write_text(json.dumps({"status": "stopped"}))
    return folder


# -- run ids and paths in the CLI ----------------------------------------------------------------------

COMMANDS = {
    "eval": ["eval", "--run", REF],
    "export": ["export", "--run", REF, "--out", "exports/never"],
    "push": ["push", "--run", REF, "--repo", "me/never"],
    "chat": ["chat", "--run", REF, "--prompt", "hi"],
    "resume": ["train", "--resume", REF],
}


@pytest.fixture
def cli(monkeypatch, capsys):
    """``python -m studio ARGS`` in this process (its main(), so a refusal costs no interpreter
    start): (exit code, stderr). The subprocess door itself is the model-folder test's below."""
    from studio.cli import main

    def run(*args) -> tuple[int, str]:
        monkeypatch.setenv("STUDIO_RUNS_DIR", os.environ.get("STUDIO_RUNS_DIR", ""))  # main() sets it
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = exc.code
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        return code, capsys.readouterr().err

    return run


def _refusal(cli, command: str, ref: str, runs: Path) -> str:
    code, err = cli(*[ref if a == REF else a for a in COMMANDS[command]], "--runs-dir", str(runs))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "is not a run in the runs folder" in lines[0] and f"runs live in {runs}" in lines[0]
    return lines[0].replace(ref, REF)


@pytest.mark.cli
@pytest.mark.parametrize("command", COMMANDS)
def test_cli_refuses_a_run_outside_the_runs_folder(cli, command, outside_run, runs):
    _refusal(cli, command, str(outside_run), runs)
    assert not (ROOT / "exports" / "never").exists()
    assert json.loads((outside_run / "status.json").read_text()) == {"status": "stopped"}  # nothing resumed


@pytest.mark.cli
def test_cli_refusal_reads_the_same_whether_the_path_exists_or_not(cli, outside_run, runs):
    refs = [str(outside_run), str(outside_run.parent / "missing"), str(runs / ".." / "elsewhere" / "fake-run")]
    assert len({_refusal(cli, "export", ref, runs) for ref in refs}) == 1


@pytest.mark.cli
def test_cli_opens_a_run_inside_the_runs_folder_by_id_or_path(cli, runs):
    run = new_run(RunConfig(), runs)
    (run.adapter_dir).mkdir()
    (run.adapter_dir / "adapter_config.json").write_text("{}")
    for ref in (run.id, str(run.path)):  # found, then refused for its --out, which is inside the run
        code, err = cli("export", "--run", ref, "--runs-dir", str(runs), "--out", str(run.adapter_dir))
        assert code == 2 and "inside the run" in err, err


# -- local model folders -------------------------------------------------------------------------------


@pytest.fixture
def narrow(tmp_path, monkeypatch) -> Path:
    """Data (and so models) may be read only from tmp_path/allowed; runs live in tmp_path/runs."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("STUDIO_ALLOWED_DIRS", str(allowed))
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    outside = tmp_path / "outside" / "model"
    outside.mkdir(parents=True)
    (outside / "config.json").write_text(json.dumps({"model_type": "llama", "secret": "hunter2"}))
    return allowed


def outside_names(tmp_path: Path) -> list[str]:
    outside = tmp_path / "outside"
    return [
        str(outside / "model"),
        str(outside / "model" / "config.json"),
        str(outside / "missing"),
        str(tmp_path / "allowed" / ".." / "outside" / "model"),
    ]


def test_a_model_folder_outside_is_refused_alike_by_the_services(narrow, tmp_path):
    from studio.services import Studio

    studio = Studio(tmp_path / "runs")
    messages = set()
    for name in outside_names(tmp_path):
        config = tiny_recipe(name)
        with pytest.raises(ValueError) as caught:
            studio.start_training(config)
        messages.add(str(caught.value).replace(name, "<model>"))
        problems = [p.message.replace(name, "<model>") for p in studio.review(config).problems if p.field == "model"]
        assert problems and all(REFUSED_MODEL in p for p in problems), problems
    assert len(messages) == 1, messages  # the same words whether the folder exists or not
    message = messages.pop()
    assert REFUSED_MODEL in message and "--data-dir" in message
    assert "hunter2" not in message and "config.json" not in message
    assert not list((tmp_path / "runs").glob("*/config.yaml"))  # no run was created


def test_model_folders_load_from_runs_caches_and_allowed_folders(narrow, tmp_path, monkeypatch, tiny_model_dir):
    from huggingface_hub import constants

    from studio.models import loading

    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    places = [
        narrow / "m",
        tmp_path / "runs" / "r" / "adapter",
        tmp_path / "cache" / "models" / "m",
        tmp_path / "hf" / "m",
    ]
    for place in places:
        shutil.copytree(tiny_model_dir, place)
        assert loading.resolve_model(str(place)) == str(place)
        assert loading.resolve_model(str(place / "config.json")) == str(place)
    assert loading.local_folder("HuggingFaceTB/SmolLM2-360M-Instruct") is None  # a Hub id stays one
    with pytest.raises(ValueError, match=REFUSED_MODEL):
        loading.resolve_model(str(tiny_model_dir))  # not inside the folders allowed here


@pytest.mark.cli
def test_cli_finds_a_model_folder_outside_the_apps_folders(narrow, tmp_path):
    """A command runs with its user's rights (issue 27): the app's folders do not bind it."""
    env = {"STUDIO_ALLOWED_DIRS": str(narrow), "STUDIO_RUNS_DIR": str(tmp_path / "runs")}
    done = studio_cli("model", "path", "--model", str(tmp_path / "outside" / "model"), env_extra=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == str(tmp_path / "outside" / "model")


# -- SIGTERM -------------------------------------------------------------------------------------------


def _status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def _wait_for_step(runs: Path, proc, step: int = 1, timeout: float = 180) -> Path:
    """The run directory, once its metrics show ``step`` (the training is under way)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the process ended before the signal"
        for metrics in runs.glob("*/metrics.jsonl"):
            steps = [json.loads(line).get("step", 0) for line in metrics.read_text().splitlines() if line.strip()]
            if max(steps, default=0) >= step:
                return metrics.parent
        time.sleep(0.05)
    raise AssertionError("the training did not reach its first step in time")


def _assert_interrupted_and_resumable(run_dir: Path, runs: Path) -> None:
    status = _status(run_dir)
    assert status["status"] == "interrupted", status
    assert "SIGTERM" in status["error"] and "\n" not in status["error"], status
    checkpoints = sorted((run_dir / "checkpoints").glob("checkpoint-*"))
    assert checkpoints and (checkpoints[-1] / "trainer_state.json").exists()
    stopped_at = int(checkpoints[-1].name.split("-")[-1])
    assert f"at step {stopped_at}" in status["error"] and checkpoints[-1].name in status["error"]

    resumed = studio_cli("train", "--resume", run_dir.name, "--runs-dir", str(runs), "--quiet")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _status(run_dir)["status"] == "completed"
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 30 and stopped_at < 30


@pytest.mark.cli
def test_sigterm_stops_a_cli_training_resumably(tiny_config, runs, tmp_path):
    config_path = tiny_config.save(tmp_path / "run.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", "train", str(config_path), "--runs-dir", str(runs), "--max-steps", "30"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_dir = _wait_for_step(runs, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out + err
    assert "interrupted: SIGTERM" in out and out.strip().splitlines()[-1] == str(run_dir)
    _assert_interrupted_and_resumable(run_dir, runs)


@pytest.mark.e2e
def test_sigterm_stops_the_app_s_training_resumably(tiny_model_dir, runs, tmp_path):
    """app.py on a Space being restarted; the model path rule checked over the same door."""
    from gradio_client import Client

    port = free_port()
    env = {
        **os.environ,
        "STUDIO_RUNS_DIR": str(runs),
        "STUDIO_ALLOWED_DIRS": str(tiny_model_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--no-browser"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        url = _wait_for_app(port, proc)
        client = Client(url, verbose=False)
        for name in (str(outside), str(tmp_path / "missing")):
            with pytest.raises(Exception, match=REFUSED_MODEL):
                client.predict(tiny_recipe(name).to_yaml(), api_name="/train_from_yaml")
        client.predict(tiny_recipe(tiny_model_dir, max_steps=30).to_yaml(), api_name="/train_from_yaml")
        run_dir = _wait_for_step(runs, proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert proc.returncode == -signal.SIGTERM, (tmp_path / "app.log").read_text()[-3000:]
    _assert_interrupted_and_resumable(run_dir, runs)


def _wait_for_app(port: int, proc, timeout: float = 180) -> str:
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"app.py exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return url
        except OSError:
            time.sleep(0.3)
    raise AssertionError("app.py did not answer in time")
