"""A run on a real Ray cluster: a head on loopback started here, two CPU workers over gloo, the tiny model.

Each test submits a Ray job through the studio's JobManager (as Start in the Train tab does) and
reads the outcome from the run directory. Ray is optional (requirements-ray.txt): without it the
module is skipped. Figures (start to first step, seconds per step, loss difference) are printed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.launch import remote
from studio.launch.cluster import node_resources
from studio.launch.ray_jobs import RayJob
from studio.train.jobs.manager import JobManager

from .conftest import ROOT, free_port, tiny_recipe

pytest.importorskip("ray")
# A Ray head and two torch workers take minutes on two cores: heavy, but for the smoke case (one
# worker, two steps), which CI runs.
HEAVY = pytest.mark.heavy

RAY = Path(sys.executable).parent / "ray"


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """``ray start --head --block`` on 127.0.0.1 with 3 logical CPUs; its process group is ended after."""
    port, dashboard = free_port(), free_port()
    temp = Path(f"/tmp/rt{port}")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    cmd = [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    cmd += ["--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--num-cpus", "3"]
    cmd += ["--include-dashboard", "true", "--disable-usage-stats", "--temp-dir", str(temp)]
    log = open(tmp_path_factory.mktemp("ray") / "head.log", "w")  # noqa: SIM115 - closed at teardown
    head = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    deadline = time.monotonic() + 180
    while True:  # the dashboard answers, and the head's node has registered its CPUs
        try:
            if sum(n.get("CPU", 0) for n in node_resources(address)) >= 3:
                break
        except Exception:  # noqa: BLE001 - the dashboard is still coming up
            pass
        assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
        time.sleep(1)
    yield address
    os.killpg(head.pid, signal.SIGTERM)  # --block: the head stops the processes it started
    try:
        head.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
    log.close()


@pytest.fixture
def ray_env(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")


def _on_ray(config, address: str, workers: int = 2):
    config.launch.on, config.launch.ray_address, config.launch.ray_workers = "ray", address, workers
    return config


def _steps(run) -> list[int]:
    return [m["step"] for m in run.metrics() if "loss" in m and m.get("step")]


def _job(run) -> RayJob:
    launch = run.read_json("launch.json")
    return RayJob(launch["address"], launch["jobs"][-1]["id"])


def _wait_for_step(jobs, run, step: int, timeout: float = 400) -> float:
    started = time.monotonic()
    while not [s for s in _steps(run) if s >= step]:
        assert jobs.active, jobs.snapshot().error
        assert time.monotonic() - started < timeout, "no step in time"
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.mark.smoke
def test_one_ray_worker_trains_the_run_on_the_cluster(ray_head, ray_env, tiny_model_dir, tmp_path):
    jobs = JobManager(tmp_path / "runs", launcher=remote)
    started = time.monotonic()
    run = jobs.start(_on_ray(tiny_recipe(tiny_model_dir, max_steps=2, save_steps=2), ray_head, workers=1))
    progress = jobs.wait(400)
    assert progress.status == "completed", progress.error
    print(f"\nRAY SMOKE: one worker, two steps in {time.monotonic() - started:.1f}s")
    assert _steps(run) == [1, 2] and _job(run).state() == "SUCCEEDED"
    status = run.status()
    assert status["ray_attempt"] == 1 and "restarts" not in status
    assert json.loads((run.path / "environment.json").read_text())["world_size"] == 1
    assert [c.name for c in run.checkpoints()] == ["checkpoint-2"]
    assert (run.path / "adapter" / "adapter_model.safetensors").exists()


@HEAVY
def test_two_ray_workers_train_like_one_process_with_the_same_global_batch(ray_head, ray_env, tiny_model_dir, tmp_path):
    recipe = dict(max_steps=6, batch_size=2, max_rows=24, learning_rate=1e-3, save_steps=3)
    here = JobManager(tmp_path / "here")
    local_start = time.monotonic()
    local_run = here.start(tiny_recipe(tiny_model_dir, **{**recipe, "batch_size": 4}))
    local_first = _wait_for_step(here, local_run, 1)
    assert here.wait(300).status == "completed"
    local_total = time.monotonic() - local_start

    jobs = JobManager(tmp_path / "ray", launcher=remote)
    ray_start = time.monotonic()
    run = jobs.start(_on_ray(tiny_recipe(tiny_model_dir, **recipe), ray_head))  # 2 workers x 2 = 4
    ray_first = _wait_for_step(jobs, run, 1)
    progress = jobs.wait(600)
    ray_total = time.monotonic() - ray_start
    assert progress.status == "completed", progress.error
    assert progress.step == 6 and [m["step"] for m in progress.metrics if "loss" in m] == list(range(1, 7))
    assert _job(run).state() == "SUCCEEDED"
    status = run.status()
    assert status["status"] == "completed" and status["ray_attempt"] == 1 and "restarts" not in status
    assert json.loads((run.path / "environment.json").read_text())["world_size"] == 2
    assert (run.path / "adapter" / "adapter_model.safetensors").exists()
    assert [c.name for c in run.checkpoints()] == ["checkpoint-3", "checkpoint-6"]

    ray_loss = {m["step"]: m["loss"] for m in run.metrics() if "loss" in m}
    local_loss = {m["step"]: m["loss"] for m in local_run.metrics() if "loss" in m}
    worst = max(abs(ray_loss[s] - local_loss[s]) / local_loss[s] for s in local_loss)
    local_sps = local_run.read_json("summary.json")["seconds_per_step"]
    ray_sps = run.read_json("summary.json")["seconds_per_step"]
    print(
        f"\nRAY FIGURES: start->first step {ray_first:.1f}s (here {local_first:.1f}s); "
        f"s/step {ray_sps:.3f} (here {local_sps:.3f}); whole run {ray_total:.1f}s (here {local_total:.1f}s); "
        f"worst relative loss difference {worst:.2e}"
    )
    assert worst < 0.01  # the same samples per step; the sums differ only in float order


@HEAVY
def test_stop_cancels_the_ray_run_with_a_checkpoint_to_resume(ray_head, ray_env, tiny_model_dir, tmp_path):
    jobs = JobManager(tmp_path / "runs", launcher=remote)
    run = jobs.start(_on_ray(tiny_recipe(tiny_model_dir, max_steps=2000, batch_size=2, save_steps=0), ray_head))
    _wait_for_step(jobs, run, 2)
    assert jobs.stop()
    progress = jobs.wait(300)
    assert progress.status == "stopped", progress.error
    assert _job(run).state() not in ("PENDING", "RUNNING")
    stopped_at = run.status()["step"]
    assert run.last_checkpoint().name == f"checkpoint-{stopped_at}" and stopped_at < 2000
    assert _steps(run) == list(range(1, stopped_at + 1))


@HEAVY
def test_a_killed_worker_is_restarted_from_the_checkpoint_with_no_step_lost_or_repeated(
    ray_head, ray_env, tiny_model_dir, tmp_path
):
    jobs = JobManager(tmp_path / "runs", launcher=remote)
    run = jobs.start(_on_ray(tiny_recipe(tiny_model_dir, max_steps=10, batch_size=2, save_steps=2), ray_head))
    _wait_for_step(jobs, run, 3)  # checkpoint-2 is written before step 3 starts
    os.kill(int(run.status()["pid"]), signal.SIGKILL)  # rank 0's process, as an OOM killer would
    progress = jobs.wait(600)
    assert progress.status == "completed", progress.error
    status = run.status()
    assert status["ray_attempt"] == 2 and len(status["restarts"]) == 1
    assert status["restarts"][0]["from_step"] >= 2
    assert any("Ray restarted the workers" in w for w in progress.warnings)
    assert _steps(run) == list(range(1, 11))  # trimmed after the checkpoint, then trained on
    assert [c.name for c in run.checkpoints()][-1] == "checkpoint-10"


@HEAVY
def test_a_dataset_the_workers_cannot_read_fails_once_without_restarts(ray_head, ray_env, tiny_model_dir, tmp_path):
    data = tmp_path / "rows.jsonl"
    shutil.copy(ROOT / "assets" / "sample_sft.jsonl", data)
    jobs = JobManager(tmp_path / "runs", launcher=remote)
    run = jobs.start(_on_ray(tiny_recipe(tiny_model_dir, dataset=str(data), max_steps=4, batch_size=2), ray_head))
    data.unlink()  # gone before the workers (seconds away) load it: the same failure on every attempt
    progress = jobs.wait(300)
    assert progress.status == "failed" and "rows.jsonl" in progress.error, progress.error
    status = run.status()
    assert status["ray_attempt"] == 1 and "restarts" not in status  # max_failures (2) not spent on it
    assert _job(run).state() == "FAILED"


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.5)
    return value


@HEAVY
def test_the_app_sends_a_run_to_ray_and_a_restarted_app_follows_and_stops_it(
    ray_head, ray_env, tiny_model_dir, tmp_path
):
    from gradio_client import Client

    from studio.bench.startup import launched_app
    from studio.runs.directory import list_runs

    runs = tmp_path / "runs"
    config = _on_ray(tiny_recipe(tiny_model_dir, max_steps=2000, batch_size=2, save_steps=0), ray_head)
    with launched_app(str(runs)) as (url, _):
        Client(url, verbose=False).predict(config.to_yaml(), api_name="/train_from_yaml")
        run = _wait(lambda: next(iter(list_runs(runs)), None), 60, "no run directory")
        _wait(lambda: [s for s in _steps(run) if s >= 2], 400, "no step 2 on Ray")
    # The app got SIGTERM and is gone; the run goes on on its cluster.
    assert _job(run).alive() and run.status()["status"] == "running"
    before = max(_steps(run))
    with launched_app(str(runs)) as (url, _):
        client = Client(url, verbose=False)
        _wait(lambda: "<b>running" in client.predict(api_name="/progress")[0], 60, "the new app does not follow it")
        _wait(lambda: max(_steps(run)) > before, 120, "no new step while followed")
        client.predict(api_name="/stop_training")
        _wait(lambda: run.status()["status"] == "stopped", 300, "Stop from the restarted app did not stop it")
        _wait(lambda: "<b>stopped" in client.predict(api_name="/progress")[0], 60, "the Train tab missed the stop")
    assert _job(run).state() not in ("PENDING", "RUNNING")
    stopped_at = run.status()["step"]
    assert run.last_checkpoint().name == f"checkpoint-{stopped_at}"
    assert _steps(run) == list(range(1, stopped_at + 1))  # no step lost or repeated across the restart
