"""Stop and resume for the reward model, ORPO, KTO and GRPO (issue 14): a run resumed from a
checkpoint repeats the uninterrupted run's losses and ends on the same weights; a SIGKILLed run
resumes to ``completed`` with no step logged twice or missing."""

import shutil

import pytest
import torch
from safetensors.torch import load_file

from studio.train.jobs.manager import JobManager

from .conftest import ROOT, tiny_recipe, train_until_sigkill
from .test_methods_rl import LOGGED, configure

# 4 rows (KTO: 2 pairs, so 4 labelled answers), batch 2: two steps an epoch. The checkpoint after
# step 1 is mid-epoch; the resumed steps end that epoch and start the next, reshuffled.
STEPS, SAVED_AT = 3, 1
CLOCK = {"time", "tokens_per_s"}


def resumable(model_dir, method: str, steps: int = STEPS, save_steps: int = SAVED_AT):
    config = configure(tiny_recipe(model_dir), method)
    config.data.max_rows = 4 if method != "kto" else 2
    if method == "kto":  # the short preference pairs, unpaired: the real KTO rows take 4 s a step
        config.data.dataset, config.train.max_length = str(ROOT / "assets" / "sample_dpo.jsonl"), 128
    config.train.max_steps, config.train.save_steps, config.train.save_total_limit = steps, save_steps, 10
    return config


def step_logs(run) -> dict[int, dict]:
    logs = [m for m in run.metrics() if "loss" in m]
    steps = [m["step"] for m in logs]
    assert steps == sorted(set(steps)), steps  # no step logged twice
    return {m["step"]: m for m in logs}


def weights(run) -> dict[str, torch.Tensor]:
    return load_file(run.adapter_dir / "adapter_model.safetensors")


def train_then_resume(config, tmp_path, saved_at: int):
    """An uninterrupted run, then the same run resumed from checkpoint-``saved_at`` as a kill there
    leaves it (the later checkpoints and the adapter gone); (straight logs, straight weights, run)."""
    jobs = JobManager(tmp_path / "runs")
    run = jobs.start(config, background=False)
    assert run.status()["status"] == "completed", run.status().get("error")
    straight, straight_weights = step_logs(run), weights(run)
    steps = config.train.max_steps
    assert sorted(straight) == list(range(1, steps + 1))
    for later in run.checkpoints()[1:]:
        shutil.rmtree(later)
    shutil.rmtree(run.adapter_dir)
    run.set_status(status="interrupted")
    assert run.last_checkpoint().name == f"checkpoint-{saved_at}"
    jobs.start(None, resume=run.path, background=False)
    assert run.status()["status"] == "completed", run.status().get("error")
    assert run.status()["step"] == steps
    return straight, straight_weights, run


def assert_same_continuation(straight: dict, straight_weights: dict, run, saved_at: int) -> None:
    resumed = step_logs(run)
    assert sorted(resumed) == sorted(straight)  # none lost, none twice
    for step in range(saved_at + 1, max(straight) + 1):
        # Every figure the step logged (loss, grad_norm, learning rate, the method's rewards,
        # accuracy, margins, KL, sampled lengths) but the clock's.
        keys = {k for k in straight[step] if k not in CLOCK and not k.endswith("_time")}
        assert {"loss", "grad_norm", "learning_rate"} <= keys and keys <= resumed[step].keys()
        for key in keys:
            assert resumed[step][key] == pytest.approx(straight[step][key], rel=1e-4, abs=1e-6), (step, key)
    final = weights(run)
    assert final.keys() == straight_weights.keys()
    for name, tensor in final.items():
        assert torch.allclose(tensor, straight_weights[name], rtol=1e-4, atol=1e-6), name


# CI resumes the reward model (its new score head restored with the adapter) as the smoke case;
# ORPO's and KTO's resumes take the same checkpoint path and GRPO's samples and trains twice (over a
# minute on two cores): heavy, as the SIGKILL cases.
@pytest.mark.parametrize(
    "method",
    [
        pytest.param("reward", marks=pytest.mark.smoke),
        pytest.param("orpo", marks=pytest.mark.heavy),
        pytest.param("kto", marks=pytest.mark.heavy),
        pytest.param("grpo", marks=pytest.mark.heavy),
    ],
)
def test_resume_from_a_checkpoint_repeats_the_uninterrupted_run(tiny_model_dir, tmp_path, method):
    straight, straight_weights, run = train_then_resume(resumable(tiny_model_dir, method), tmp_path, SAVED_AT)
    assert_same_continuation(straight, straight_weights, run, SAVED_AT)
    assert LOGGED[method] <= set().union(*run.metrics())  # the method's figures reach metrics.jsonl
    if method == "reward":  # the new score head is trained, checkpointed and restored with the adapter
        assert any(".score." in name for name in weights(run))


def test_grpo_reusing_its_samples_checkpoints_only_between_generations(tiny_model_dir, tmp_path):
    # num_iterations 2: each generated batch trains two steps, and TRL keeps it in memory only. A
    # checkpoint after the first of the two would resume on fresh samples, so saves (and Stop)
    # land at the end of a generation: save_steps 1 becomes 2.
    config = resumable(tiny_model_dir, "grpo", steps=4, save_steps=1)
    config.grpo.num_iterations = 2
    straight, straight_weights, run = train_then_resume(config, tmp_path, saved_at=2)
    assert_same_continuation(straight, straight_weights, run, saved_at=2)
    assert LOGGED["grpo"] <= set().union(*run.metrics())  # the method's figures reach metrics.jsonl


def test_stop_waits_for_the_end_of_a_generated_batch(tmp_path):
    import threading

    from transformers import TrainerControl, TrainerState, TrainingArguments

    from studio.train.callbacks import MetricsCallback
    from studio.train.jobs.progress import Tracker

    stop, tracker = threading.Event(), Tracker()
    callback = MetricsCallback(tracker, tmp_path / "metrics.jsonl", stop, stop_every=3)
    args, state = TrainingArguments(output_dir=str(tmp_path), use_cpu=True), TrainerState(max_steps=9)
    stop.set()
    for step, stops in ((4, False), (5, False), (6, True)):
        state.global_step, control = step, TrainerControl()
        callback.on_step_end(args, state, control)
        assert (control.should_training_stop, control.should_save) == (stops, stops), step
    assert tracker.snapshot().status == "stopping"


@pytest.mark.cli
@pytest.mark.heavy  # the SFT SIGKILL tests (test_runs, test_run_segments) cover the mechanism in CI
@pytest.mark.parametrize("method", ["reward", "grpo"])
def test_sigkilled_run_resumes_to_completed_with_every_step_once(tiny_model_dir, tmp_path, method):
    config = resumable(tiny_model_dir, method, steps=8, save_steps=1)
    config.train.save_total_limit = 2
    config.grpo.num_iterations = 2  # GRPO: a checkpoint only after each generated batch's 2nd step
    straight_jobs = JobManager(tmp_path / "straight")
    straight_run = straight_jobs.start(config, background=False)
    straight = step_logs(straight_run)

    runs = tmp_path / "runs"
    run = train_until_sigkill(config, tmp_path, runs, at_checkpoint=2)
    assert run.status()["status"] == "interrupted"  # its pid is gone
    saved = sorted(int(c.name.split("-")[1]) for c in run.checkpoints())
    killed_at = saved[-1]
    assert killed_at < 8
    if method == "grpo":
        assert all(step % 2 == 0 for step in saved), saved
    jobs = JobManager(runs)
    jobs.start(None, resume=run.path, background=False)
    status = run.status()
    assert (status["status"], status["step"]) == ("completed", 8), status.get("error")
    assert f"(step {killed_at})" in run.log_path.read_text()
    resumed = step_logs(run)  # no step twice
    assert sorted(resumed) == list(range(1, 9))  # none lost
    for step in range(killed_at + 1, 9):  # and the same steps as a run never killed
        assert resumed[step]["loss"] == pytest.approx(straight[step]["loss"], rel=1e-4, abs=1e-6), step
        assert resumed[step]["grad_norm"] == pytest.approx(straight[step]["grad_norm"], rel=1e-4, abs=1e-6), step
