"""A full disk is told true (issue 32): one line, no traceback, naming the checkpoint that is left
(or saying there is none) and how much to free where; and Start refuses a run that cannot fit.

The real case mounts a small tmpfs (root only; skipped elsewhere) and fills it just before a
checkpoint save, so torch, safetensors and the tokenizer meet a real ENOSPC; the CLI runs in this
process so the free-space figure of admission can be replaced. The same messages are also checked
with the fault injected at the save, which runs anywhere.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from studio.schema import ConfigError
from studio.train.estimate import estimate
from studio.train.jobs import admission, disk
from studio.train.jobs.manager import JobManager

BALLAST_LEFT = 64 * 1024  # what the ballast leaves free on the tmpfs: no checkpoint fits in it


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs (enough for the run's files and one checkpoint), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill_before_save(monkeypatch, disk_folder: Path, good_saves: int) -> None:
    """Let ``good_saves`` checkpoints through, then fill the disk before the next one is written."""
    from transformers import Trainer

    original, calls = Trainer._save_checkpoint, []

    def save(self, *args, **kwargs):
        calls.append(self.state.global_step)
        if len(calls) == good_saves + 1:
            with open(disk_folder / "ballast", "wb") as fh:  # someone else's download fills the disk
                fh.write(b"\0" * max(0, shutil.disk_usage(disk_folder).free - BALLAST_LEFT))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_save_checkpoint", save)


def _cli(argv, capsys) -> tuple[int, str]:
    """``python -m studio ARGV`` in this process (so admission's free-space figure can be replaced);
    its exit code and everything it printed; the root logger put back as it was."""
    from studio.cli import main

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with warnings.catch_warnings():
            code = main(argv)
    finally:
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
        root.setLevel(level)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize("kept", [1, 0])
def test_a_real_full_disk_says_in_one_line_what_is_left_and_what_to_do(
    small_disk, kept, tiny_config, tmp_path, capsys, monkeypatch
):
    for name in ("TRANSFORMERS_VERBOSITY", "HF_DATASETS_DISABLE_PROGRESS_BARS", "STUDIO_RUNS_DIR"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # the CLI sets these; put back afterwards
    monkeypatch.setattr(admission, "disk_free_bytes", lambda folder: 2**40)  # the disk fills during the run
    _fill_before_save(monkeypatch, small_disk, good_saves=kept)
    tiny_config.train.max_steps, tiny_config.train.save_steps = 4, 1
    runs = small_disk / "runs"
    code, shown = _cli(["train", str(tiny_config.save(tmp_path / "run.yaml")), "--runs-dir", str(runs)], capsys)
    assert code == 1, shown
    assert "Traceback" not in shown and "Logging error" not in shown, shown
    (error,) = [line for line in shown.splitlines() if line.startswith("error: ")]
    assert error.startswith(f"error: disk full at step {kept + 1}: no space left in {runs}")
    (run_dir,) = runs.iterdir()
    assert [p.name for p in (run_dir / "checkpoints").glob("checkpoint-*")] == [f"checkpoint-{kept}"] * kept
    if kept:
        assert "the last complete checkpoint is checkpoint-1 (step 1), kept" in error and error.endswith("then resume")
    else:
        assert "no checkpoint was completed, so there is nothing to resume" in error
        assert error.endswith("then start the run again") and "checkpoint-" not in error
    assert "free about " in error and f"MiB in {runs}" in error
    assert "Traceback" in (run_dir / "train.log").read_text()  # for a developer, in the run's log only


def _jobs_failing_at_save(tiny_config, tmp_path, monkeypatch, good_saves: int) -> JobManager:
    from transformers import Trainer

    original, calls = Trainer._save_checkpoint, []

    def save(self, *args, **kwargs):
        calls.append(self.state.global_step)
        if len(calls) <= good_saves:
            return original(self, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    tiny_config.train.max_steps, tiny_config.train.save_steps = 3, 1
    return JobManager(tmp_path / "runs")


def test_a_full_disk_names_the_checkpoint_kept_and_how_much_to_free(tiny_config, tmp_path, monkeypatch):
    jobs = _jobs_failing_at_save(tiny_config, tmp_path, monkeypatch, good_saves=1)
    run = jobs.start(tiny_config, background=False)
    error = run.read_json("status.json")["error"]
    assert jobs.snapshot().error == error and "\n" not in error and "Traceback" not in error
    assert "the last complete checkpoint is checkpoint-1 (step 1), kept" in error
    assert "free about " in error and f"in {run.path.parent} (" in error and error.endswith("then resume")
    recorded = run.read_json("estimate.json")["disk"]  # the need the message counts from
    assert disk.folder_bytes(run.last_checkpoint()) <= recorded["checkpoint_bytes"]  # the estimate covers it


def test_a_full_disk_before_any_checkpoint_says_start_again(tiny_config, tmp_path, monkeypatch):
    jobs = _jobs_failing_at_save(tiny_config, tmp_path, monkeypatch, good_saves=0)
    run = jobs.start(tiny_config, background=False)
    error = run.read_json("status.json")["error"]
    assert run.checkpoints() == [] and "\n" not in error
    assert "no checkpoint was completed, so there is nothing to resume" in error
    assert error.endswith("then start the run again") and "checkpoint-" not in error
    assert "Traceback" in run.log_path.read_text() and "Traceback" not in error


def test_start_refuses_a_run_whose_checkpoints_do_not_fit_the_free_disk(tiny_config, tmp_path, monkeypatch):
    from studio.train.plan import plan_run

    tiny_config.train.max_steps, tiny_config.train.save_steps, tiny_config.train.save_total_limit = 6, 2, 2
    plan = plan_run(tiny_config)
    need = disk.disk_need(estimate(tiny_config, plan.device), tiny_config, plan.total_steps, len(plan.tokenizer))
    assert need.checkpoints == 3  # 3 saves; the Trainer writes the newest before it drops the oldest
    asked = []
    monkeypatch.setattr(admission, "disk_free_bytes", lambda folder: asked.append(folder) or need.total_bytes - 1)
    jobs = JobManager(tmp_path / "runs")
    with pytest.raises(ConfigError) as caught:
        jobs.start(tiny_config, background=False)
    message = str(caught.value)
    assert message.startswith(f"disk: the run writes about {disk.size(need.total_bytes)} (3 checkpoints of ")
    assert f"has {disk.size(need.total_bytes - 1)} free" in message and "save_total_limit" in message
    assert asked == [tmp_path / "runs"] and not (tmp_path / "runs").exists()  # nothing was created
    monkeypatch.setattr(admission, "disk_free_bytes", lambda folder: need.total_bytes)
    assert jobs.start(tiny_config, background=False).read_json("status.json")["status"] == "completed"
