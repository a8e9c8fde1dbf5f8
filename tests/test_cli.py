"""The CLI runs the same services: a run directory printed last, one reply printed alone."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import cli
from studio.cli import build_parser, main

from .conftest import ROOT


def studio(*args, env_extra=None, timeout=300):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.cli
@pytest.mark.heavy  # two interpreters with torch and a training: ~80 s on two cores
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
        "--runs-dir",
        str(runs),
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
    greedy = [
        "chat",
        "--run",
        run_dir.name,
        "--runs-dir",
        str(runs),
        "--prompt",
        "Hello",
        "--greedy",
        "--max-new-tokens",
        "12",
    ]
    assert studio(*greedy).stdout != studio(*greedy, "--base").stdout


@pytest.mark.cli
def test_bad_config_value_exits_2_naming_the_field(tiny_config, tmp_path):
    config_path = tiny_config.save(tmp_path / "run.yaml")
    result = studio("train", str(config_path), "--runs-dir", str(tmp_path / "runs"), "--lora-r", "0")
    assert result.returncode == 2
    assert "lora_r" in result.stderr and "minimum" in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def commands(parser, path=()):
    """Every command path the parser knows, found by walking its subparsers (aliases once)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from commands(sub, (*path, name))


PATHS = [path for path, _ in commands(build_parser()) if path]


def test_the_walk_finds_every_command_module_and_nested_commands():
    assert {path[0] for path in PATHS} >= set(cli.COMMANDS)
    assert ("data", "clean") in PATHS and ("push",) in PATHS  # a nested command; a second one of a module


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_every_command_explains_itself(path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith(f"usage: python -m studio {' '.join(path)}")
    parser = dict(commands(build_parser()))[path]
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS:
            assert action.help, f"{' '.join(path)} {action.option_strings[0]} has no help text"
            assert action.option_strings[-1] in out
    if path == ("train",):
        assert "--learning-rate" in out
    if path == ("chat",):
        assert "--top-p" in out


@pytest.mark.cli
def test_the_entry_point_lists_every_command():
    result = studio("--help")
    assert result.returncode == 0, result.stderr
    assert all(path[0] in result.stdout for path in PATHS)
