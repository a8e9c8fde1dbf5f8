"""A training leaves the UI a share of the cores: torch's OpenMP threads stop spinning soon, and a
background training runs at a lower priority than the app's other threads."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.train.jobs.manager import NICE, JobManager, _lowered

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import studio, torch, os; print(os.environ.get('GOMP_SPINCOUNT'))"


def _spincount(user_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    if user_value is not None:
        env["GOMP_SPINCOUNT"] = user_value
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_the_studio_sets_a_short_spin_before_torch_loads_and_a_user_value_wins():
    assert _spincount(None) == "10000"
    assert _spincount("300000") == "300000"


def _nice(native_id: int) -> int:
    """A thread's nice value, as the kernel reports it (field 19 of /proc/self/task/<id>/stat)."""
    stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def _nice_while_training(jobs, config) -> tuple[int, int]:
    """(the training thread's nice, this thread's nice) once the job has done a step."""
    jobs.start(config)
    try:
        deadline = time.time() + 120
        while jobs.snapshot().step < 1 and jobs.active and time.time() < deadline:
            time.sleep(0.02)
        assert jobs.active, jobs.snapshot().error
        return _nice(jobs._thread.native_id), _nice(threading.get_native_id())
    finally:
        jobs.stop()
        jobs.wait(60)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread nice values are read from Linux /proc")
def test_a_background_training_steps_back_from_the_app_threads_and_can_be_told_not_to(
    tiny_config, runs_dir, monkeypatch
):
    tiny_config.train.max_steps = 200
    base = os.getpriority(os.PRIO_PROCESS, 0)
    training, app = _nice_while_training(JobManager(), tiny_config)
    assert (training, app) == (min(19, base + 10), base)
    monkeypatch.setenv(NICE, "0")
    training, app = _nice_while_training(JobManager(), tiny_config)
    assert (training, app) == (base, base)
    # a job started from a lowered thread (the queue's next run, from the last one's) is not lowered twice
    monkeypatch.setenv(NICE, "4")
    nested: list = []
    starter = threading.Thread(
        target=_lowered, args=(lambda: nested.append(_nice_while_training(JobManager(), tiny_config)),)
    )
    starter.start()
    starter.join(180)
    assert nested == [(min(19, base + 4), min(19, base + 4))]
