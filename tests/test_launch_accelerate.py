"""``train --on accelerate``: the studio writes the accelerate config into the run, launches the
processes in a session of their own and follows the run directory (two CPU processes over gloo)."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from .conftest import ROOT

# Two torch processes over gloo: the smoke case, CI's one accelerate launch, trains a single step
# into one run; the longer launch (a checkpoint after each of two steps) is heavy. test_training_dist
# holds DDP's steps to one process's in CI.
pytestmark = pytest.mark.cli


def train_on_accelerate(config, tmp_path, strategy: str, timeout: float = 420, rows: int = 8):
    """``rows`` rows (8: 2 steps), batch 2 per process, two processes, a checkpoint after each step."""
    config.train.max_steps, config.train.epochs, config.train.batch_size = -1, 1, 2
    config.train.save_steps, config.data.max_rows = 1, rows
    config.launch.on, config.launch.strategy, config.launch.num_processes = "accelerate", strategy, 2
    path = config.save(tmp_path / "run.yaml")
    runs = tmp_path / "runs"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "studio", "train", str(path), "--runs-dir", str(runs)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    return result, runs


def steps_of(run) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


# CI's smoke case trains one step (4 rows); two steps, a checkpoint after each, take longer: heavy.
@pytest.mark.parametrize(
    ("rows", "steps"), [pytest.param(4, [1], marks=pytest.mark.smoke), pytest.param(8, [1, 2], marks=pytest.mark.heavy)]
)
def test_two_processes_launched_by_the_studio_train_into_one_run(tiny_config, tmp_path, rows, steps):
    result, runs = train_on_accelerate(tiny_config, tmp_path, "ddp", rows=rows)
    [run] = list(runs.iterdir())
    log = (run / "launch.log").read_text() if (run / "launch.log").exists() else ""
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:] + log[-4000:]
    written = yaml.safe_load((run / "accelerate.yaml").read_text())
    assert written["num_processes"] == 2
    assert written["distributed_type"] == "MULTI_GPU"  # accelerate then starts one process per rank
    assert json.loads((run / "environment.json").read_text())["world_size"] == 2
    assert [s for s in steps_of(run) if s] == steps
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert (run / "adapter" / "adapter_model.safetensors").exists()
    assert json.loads((run / "launch.json").read_text())["on"] == "accelerate"


@pytest.mark.heavy  # a CLI interpreter of its own: CI's budget goes to the smoke launch above
def test_fsdp_on_cpu_processes_is_refused_before_anything_starts(tiny_config, tmp_path):
    """accelerate 1.15's FSDP plugin asks the accelerator for its device and has none on a CPU
    (tried: "There are currently no available devices found"); DDP over gloo is the CPU way."""
    result, runs = train_on_accelerate(tiny_config, tmp_path, "fsdp", timeout=120)
    assert result.returncode == 2
    assert (
        "strategy: FSDP needs GPUs" in result.stdout + result.stderr and "choose ddp" in result.stdout + result.stderr
    )
    assert not runs.exists() or not list(runs.iterdir())
