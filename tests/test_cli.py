"""The CLI runs the same services: a run directory printed last, one reply printed alone."""

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def studio(*args, env_extra=None, timeout=300):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def test_train_then_chat(tiny_config, tmp_path):
    config_path = tiny_config.save(tmp_path / "run.yaml")
    runs = tmp_path / "runs"
    result = studio("train", str(config_path), "--runs-dir", str(runs), "--max-steps", "2", "--learning-rate", "0.05")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    run_dir = Path(lines[-1])
    assert run_dir.parent == runs and (run_dir / "adapter" / "adapter_model.safetensors").exists()
    assert any(line.startswith("step 2/2") for line in lines)
    assert "max_steps: 2" in (run_dir / "config.yaml").read_text()

    args = [
        "chat",
        "--run",
        str(run_dir),
        "--prompt",
        "Hello",
        "--seed",
        "5",
        "--max-new-tokens",
        "12",
        "--temperature",
        "1.0",
    ]
    first, second = studio(*args), studio(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and first.stdout.strip()
    greedy = ["chat", "--run", str(run_dir), "--prompt", "Hello", "--greedy", "--max-new-tokens", "12"]
    assert studio(*greedy).stdout != studio(*greedy, "--base").stdout


def test_bad_config_value_exits_2_naming_the_field(tiny_config, tmp_path):
    config_path = tiny_config.save(tmp_path / "run.yaml")
    result = studio("train", str(config_path), "--runs-dir", str(tmp_path / "runs"), "--lora-r", "0")
    assert result.returncode == 2
    assert "lora_r" in result.stderr and "minimum" in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_every_command_explains_itself():
    for command in ("train", "chat", "runs", "model"):
        result = studio(command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout
    assert "--learning-rate" in studio("train", "--help").stdout
    assert "--top-p" in studio("chat", "--help").stdout
