"""The estimator: exact counts from the meta device, memory parts, the verdict, the CLI, the review."""

import json
import os
import subprocess
import sys
import time

import pytest

from studio.models.device import DeviceInfo
from studio.schema import ConfigError
from studio.train.estimate import FITS, estimate, fit
from studio.train.model import build_model, trainable_parameters
from studio.train.plan import plan_run

from .conftest import ROOT


@pytest.mark.parametrize("adapter", ["lora", "qlora", "full"])
def test_counts_equal_the_built_model(tiny_config, adapter):
    tiny_config.adapter.adapter = adapter
    tiny_config.adapter.target_modules = "attention"
    est = estimate(tiny_config)
    model = build_model(plan_run(tiny_config))
    assert (est.trainable_params, est.total_params) == trainable_parameters(model)
    parts = est.memory_bytes
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert all(parts[k] > 0 for k in ("weights", "activations"))
    assert (parts["optimizer"] > 0) and (parts["gradients"] > 0)


def test_memory_follows_the_method(tiny_config):
    tiny_config.model.model = "meta-llama/Llama-3.1-8B-Instruct"  # the built-in copy of its architecture
    tiny_config.model.precision = "bf16"
    gpu = DeviceInfo("cuda", "H100", 80 * 2**30, 79 * 2**30, True)  # an 8B model is a GPU question
    by = {}
    for adapter in ("full", "lora", "qlora"):
        tiny_config.adapter.adapter = adapter
        by[adapter] = estimate(tiny_config, gpu)
    assert by["full"].total_params == 8_030_261_248
    assert by["full"].trainable_params == by["full"].total_params
    gib = 2**30
    # full: fp32 weights + fp32 grads + two fp32 AdamW moments = 16 bytes per parameter
    assert by["full"].memory_bytes["optimizer"] == 8 * by["full"].total_params
    assert 14.5 * gib < by["lora"].memory_bytes["weights"] < 15.5 * gib  # bf16 base
    assert by["qlora"].memory_bytes["weights"] < 0.55 * by["lora"].memory_bytes["weights"]  # 4-bit decoder
    assert by["qlora"].trainable_params == by["lora"].trainable_params
    tiny_config.train.gradient_checkpointing = True
    on_gpu = estimate(tiny_config, gpu).memory_bytes["activations"]
    assert on_gpu < by["qlora"].memory_bytes["activations"] / 4
    # Off CUDA the plain log-prob path materialises the logits (about five fp32 [tokens, vocab]
    # buffers) where TRL's Triton kernel holds three [tokens, 32768] tiles.
    cpu = DeviceInfo("cpu", "CPU", 512 * 2**30, 500 * 2**30, True)
    tokens, vocab = 4 * 128, 128_256
    from studio.train.activations import ALLOCATOR_SHARE

    head = (5 * vocab - 3 * 32768) * tokens * 4 * (1 + ALLOCATOR_SHARE)
    assert estimate(tiny_config, cpu).memory_bytes["activations"] - on_gpu == pytest.approx(head, abs=2)


def test_the_verdict_names_a_change_that_fits(tiny_config):
    tiny_config.model.model = "meta-llama/Llama-3.1-8B-Instruct"
    tiny_config.adapter.adapter = "lora"
    tiny_config.train.gradient_checkpointing = True
    lora = estimate(tiny_config)
    tiny_config.adapter.adapter = "qlora"
    qlora_total = estimate(tiny_config).total_bytes
    tiny_config.adapter.adapter = "lora"
    free = int(qlora_total / 0.79)  # the 4-bit run fits, the bf16 one does not
    verdict = fit(lora, tiny_config, free_bytes=free)
    assert verdict.level != FITS
    assert any("qlora" in s and "fits" in s for s in verdict.suggestions)
    assert fit(lora, tiny_config, free_bytes=10 * lora.total_bytes).level == FITS


@pytest.mark.cli
def test_cli_json_for_a_config_json(tiny_model_dir):
    for model in (tiny_model_dir / "config.json",):  # a folder is read the same way (test_counts_*)
        result = subprocess.run(
            [sys.executable, "-m", "studio", "estimate", "--model", str(model), "--adapter", "qlora"]
            + ["--lora-r", "4", "--target-modules", "q,v", "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        # q: (64 in + 64 out) x 4, v: (64 in + 32 out) x 4, in each of 2 layers
        assert data["trainable_params"] == 2 * (128 * 4 + 96 * 4)
        assert data["total_params"] > data["trainable_params"]
        assert data["memory_bytes"]["total"] == sum(v for k, v in data["memory_bytes"].items() if k != "total")
        assert data["fit"]["level"] in ("fits", "tight", "won't fit")


@pytest.mark.cli
def test_an_unknown_hub_id_offline_is_refused_quickly():
    start = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "studio", "estimate", "--model", "some-org/not-a-cached-model"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2
    assert "some-org/not-a-cached-model" in result.stderr and "offline" in result.stderr
    assert "config.json" in result.stderr  # says what to give instead
    assert time.time() - start < 60


def test_measure_puts_the_peak_next_to_the_estimate(tiny_config):
    from studio.train.peak_memory import measure

    check = measure(tiny_config, steps=1)
    assert check.measured_bytes > 0 and check.estimated_bytes > 0
    assert check.to_dict()["ratio"] == round(check.estimated_bytes / check.measured_bytes, 3)


def test_review_reports_problems_at_their_fields(tiny_config):
    from studio.train.review import review

    tiny_config.train.max_steps = -1
    tiny_config.train.epochs = 2
    r = review(tiny_config)
    assert not r.errors, r.problems
    assert (r.rows, r.train_rows, r.steps) == (24, 24, 12)  # ceil(24 / 4) x 2 epochs
    assert "= **4**" in r.batch_text and "12 steps" in r.batch_text
    assert r.estimate is not None and r.fit is not None and "q_proj" in r.layers

    tiny_config.adapter.target_modules = "q_proj,nonexistent"
    tiny_config.train.method = "dpo"
    tiny_config.train.max_length = 16
    fields = {p.field: p.message for p in review(tiny_config).errors}
    assert "nonexistent" in fields["target_modules"] and "q_proj" in fields["target_modules"]
    assert "preference pairs" in fields["method"]
    assert "chat template" in fields["max_length"]


def test_the_review_shows_the_estimate_admission_and_the_status_line_use(tiny_config):
    """One figure: the review reads the data's longest example as the plan does, so the Train tab's
    "needs about" is the job's estimate.json and the status line's "estimate", not a max_length guess."""
    from studio.train.estimate import plan_estimate
    from studio.train.jobs.admission import admit
    from studio.train.review import review

    tiny_config.train.max_length = 512  # far above the sample's longest example
    plan = plan_run(tiny_config)
    job = plan_estimate(plan)
    shown = review(tiny_config).estimate
    admitted = admit(plan, free_bytes=64 * 2**30)
    assert 0 < plan.train.longest < 512
    assert shown.tokens_per_microbatch == job.tokens_per_microbatch == 4 * plan.train.longest
    without_runtime = [{k: v for k, v in e.memory_bytes.items() if k not in ("runtime", "total")} for e in (shown, job)]
    assert without_runtime[0] == without_runtime[1]
    assert admitted.memory_bytes["activations"] == job.memory_bytes["activations"]


def test_the_process_itself_is_counted_and_admission_adds_only_the_run(tiny_config):
    from studio.models.device import current_rss_bytes
    from studio.train.estimate import PROCESS_BYTES
    from studio.train.jobs.admission import admit

    est = estimate(tiny_config)
    parts = est.memory_bytes
    assert parts["runtime"] >= max(PROCESS_BYTES, est.held_bytes) and est.held_bytes <= current_rss_bytes()
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    # What this process already holds is not in the free memory: admission asks for the rest.
    plan = plan_run(tiny_config)
    needed = admit(plan, free_bytes=64 * 2**30).added_bytes
    assert admit(plan, free_bytes=int(needed / 0.9) + 2**20) is not None
    with pytest.raises(ConfigError):
        admit(plan, free_bytes=int(needed / 0.9) - 2**24)


def test_the_head_follows_the_method(tiny_config):
    """A reward model scores with a scalar head (no vocabulary-sized logits); ORPO's logits come from
    the model and pass through two log-softmaxes, more than DPO's plain log-probabilities."""
    from studio.train.activations import ALLOCATOR_SHARE

    cpu = DeviceInfo("cpu", "CPU", 64 * 2**30, 60 * 2**30, True)
    acts = {}
    for method in ("sft", "dpo", "orpo", "reward"):
        tiny_config.train.method = method
        acts[method] = estimate(tiny_config, cpu, length=100).memory_bytes["activations"]
    vocab_buffer = 4 * 100 * 49152 * 4  # one fp32 [batch x 100 tokens, vocabulary] buffer
    assert acts["reward"] < vocab_buffer / 4 < acts["sft"]  # the tiny model's activations are its logits
    # chosen and rejected, one buffer more each (with the allocator's margin)
    assert acts["orpo"] - acts["dpo"] == pytest.approx(2 * vocab_buffer * (1 + ALLOCATOR_SHARE), abs=2)
