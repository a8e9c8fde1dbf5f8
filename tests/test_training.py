"""LoRA SFT on the tiny model through the job: metrics, adapter, stop, refusal, NaN."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from studio.schema import ConfigError
from studio.train.jobs.manager import JobBusy, JobManager
from studio.train.model import trainable_parameters
from studio.train.plan import plan_run
from studio.train.trainer import build_trainer

from .conftest import start_and_stop


def test_lora_trains_the_adapter_and_leaves_the_base(tiny_config, tmp_path):
    plan = plan_run(tiny_config)
    trainer = build_trainer(plan, str(tmp_path / "out"))
    model = trainer.model
    before_base = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    before_lora = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    trainer.train()
    after = dict(model.named_parameters())
    assert all(torch.equal(before_base[n], after[n]) for n in before_base)
    changed = [n for n in before_lora if not torch.equal(before_lora[n], after[n])]
    assert changed and all("lora_" in n for n in changed)
    trainable, total = trainable_parameters(model)
    peft_trainable, peft_total = model.get_nb_trainable_parameters()
    assert (trainable, total) == (peft_trainable, peft_total)


def test_job_writes_the_run_directory(tiny_config, runs_dir):
    jobs = JobManager()
    run = jobs.start(tiny_config)
    progress = jobs.wait(120)
    assert progress.status == "completed", progress.error
    assert progress.step == 3 and progress.total_steps == 3
    metrics = run.metrics()
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2, 3]
    assert all(math.isfinite(m["loss"]) and "learning_rate" in m and "grad_norm" in m for m in metrics if "loss" in m)
    assert any("tokens_per_s" in m for m in metrics)
    assert run.config() == tiny_config
    assert json.loads((run.path / "dataset.json").read_text())["rows"] == 24
    assert (run.adapter_dir / "adapter_model.safetensors").exists()
    assert "lora_A" in next(iter(load_file(run.adapter_dir / "adapter_model.safetensors")))
    assert run.status()["status"] == "completed"
    assert "trainable parameters" in run.log_path.read_text()
    assert progress.metrics == metrics  # the snapshot carries the whole curve


def test_stop_ends_at_the_next_step_and_keeps_the_adapter(tiny_config, runs_dir):
    tiny_config.train.max_steps = 500
    jobs = JobManager()
    run, progress = start_and_stop(jobs, tiny_config, timeout=60)
    assert 2 <= progress.step < 500
    assert run.has_adapter()
    assert run.status()["status"] == "stopped"


def test_a_second_training_is_refused_and_the_first_untouched(tiny_config, runs_dir):
    tiny_config.train.max_steps = 200
    jobs = JobManager()
    first = jobs.start(tiny_config)
    try:
        with pytest.raises(JobBusy, match="already running"):
            jobs.start(tiny_config)
        assert jobs.active and jobs.run == first
    finally:
        jobs.stop()
        jobs.wait(60)
    assert jobs.snapshot().status == "stopped"
    assert len(list(runs_dir.iterdir())) == 1


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_config, runs_dir, monkeypatch):
    # A learning rate the checks refuse (above 1.0) is let through: nothing allowed diverges this fast.
    monkeypatch.setattr("studio.train.checks.validate", lambda config, device_kind="cpu": [])
    tiny_config.train.max_steps = 30
    tiny_config.train.save_steps = 1
    tiny_config.train.save_total_limit = 50
    tiny_config.train.learning_rate = 1e30
    tiny_config.train.max_grad_norm = 0.0
    jobs = JobManager()
    run = jobs.start(tiny_config)
    progress = jobs.wait(120)
    assert progress.status == "failed"
    assert "loss became" in progress.error and "checkpoint" in progress.error
    bad_step = next(m["step"] for m in run.metrics() if "loss" in m and not math.isfinite(m["loss"]))
    saved = [int(p.name.split("-")[1]) for p in run.checkpoints()]
    assert saved and max(saved) < bad_step
    assert not run.has_adapter()


def test_impossible_values_start_nothing(tiny_config, runs_dir):
    tiny_config.adapter.lora_r = 0
    tiny_config.train.learning_rate = -1.0
    with pytest.raises(ConfigError) as err:
        JobManager().start(tiny_config)
    assert {"lora_r", "learning_rate"} <= {p.field for p in err.value.problems}
    assert not runs_dir.exists() or not list(runs_dir.iterdir())


def test_missing_target_module_is_named(tiny_config, tmp_path):
    tiny_config.adapter.target_modules = "q_proj,not_a_layer"
    plan = plan_run(tiny_config)
    with pytest.raises(ConfigError, match="not_a_layer.*q_proj"):
        build_trainer(plan, str(tmp_path / "out"))


def test_dpo_on_instruction_data_is_refused(tiny_config):
    tiny_config.train.method = "dpo"
    with pytest.raises(ConfigError, match="method: DPO needs preference pairs"):
        plan_run(tiny_config)
