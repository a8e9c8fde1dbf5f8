"""The train command unchanged under ``accelerate launch`` with two processes (CPU, gloo).

accelerate's ``--cpu`` flag starts a single process; ``--multi_gpu`` starts one process per
rank through torchrun, and on a machine without GPUs the studio joins them over gloo.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.cli


def train_on_two_processes(config, tmp_path: Path, env: dict, timeout: float = 300):
    """``accelerate launch`` with two processes of ``python -m studio train``: 8 rows, batch 2 each,
    one epoch. Returns (the finished process, the runs folder)."""
    config.train.max_steps = -1
    config.train.epochs = 1
    config.train.batch_size = 2
    config.data.max_rows = 8
    config_path = config.save(tmp_path / "run.yaml")
    runs = tmp_path / "runs"
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    cmd += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]
    cmd += ["-m", "studio", "train", str(config_path), "--runs-dir", str(runs)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env})
    return result, runs


def test_two_processes_share_one_run_directory(tiny_config, tmp_path):
    tiny_config.train.save_steps = 1
    result, runs = train_on_two_processes(tiny_config, tmp_path, {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    made = list(runs.iterdir())
    assert len(made) == 1  # only the main process created a run directory
    run = made[0]
    assert result.stdout.strip().splitlines()[-1] == str(run)  # and only it printed
    environment = json.loads((run / "environment.json").read_text())
    assert environment["world_size"] == 2
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    # 8 rows, batch 2 per process, 2 processes: 2 steps (one process alone would take 4)
    assert [s for s in steps if s] == [1, 2]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "completed" and status["total_steps"] == 2
    assert (run / "adapter" / "adapter_model.safetensors").exists()
    assert (run / "checkpoints" / "checkpoint-2" / "trainer_state.json").exists()
