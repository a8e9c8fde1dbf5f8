"""Throughput of the reward model, ORPO, KTO and GRPO, on the studio's own pipeline (issue 14).

The job shape of the sft and dpo sections (studio.bench.throughput.studio_config: LoRA r8
all-linear, batch 4, max length 256), on the same preference pairs as dpo; KTO takes them
unpaired, so a step holds 4 labelled answers (2 pairs' worth). GRPO runs on the shipped arithmetic
prompts at the default group size and completion length, 4 prompts a step, and a step is sampling
plus training, so its figures are seconds a step and the tokens (prompts and sampled answers)
through generation and training per second.

*tokens_per_s* counts the non-padding tokens of every sequence a step runs through the policy:
chosen and rejected (reward, ORPO), the answer and its mismatched KL sequence (KTO), prompt and
completion of each sampled answer (GRPO). There is no floor or plain-TRL reference here; the
sft/dpo sections carry those comparisons.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

from studio.bench.throughput import Measure, _StepTimer, default_dataset, studio_config
from studio.config import RunConfig
from studio.models import loading
from studio.train.plan import plan_run
from studio.train.trainer import build_trainer

GRPO_DATA = Path(__file__).resolve().parents[2] / "assets" / "arithmetic_grpo.jsonl"


def count_tokens(batch: dict) -> tuple[int, int, int]:
    """(computed, computed, cells) for Measure: every policy sequence's attention mask but the
    prompt alone (it is inside the chosen, rejected and completion sequences)."""
    masks = [v for k, v in batch.items() if k.endswith("attention_mask") and not k.startswith("prompt")]
    computed = int(sum(int(m.sum()) for m in masks))
    return computed, computed, int(sum(m.numel() for m in masks))


class _Counted:
    """Wraps the trainer's collator: counts each batch's tokens."""

    def __init__(self, inner, measure: Measure):
        self.inner, self.measure = inner, measure

    def __call__(self, examples):
        batch = self.inner(examples)
        computed, trained, cells = count_tokens(batch)
        self.measure.computed.append(computed)
        self.measure.trained.append(trained)
        self.measure.padded.append(cells)
        return batch


class _GeneratedTokens(TrainerCallback):
    """GRPO counts prompt and sampled tokens in ``num_input_tokens_seen`` as it generates."""

    def __init__(self, measure: Measure):
        self.measure, self.seen = measure, 0

    def on_step_begin(self, args, state, control, **kwargs):
        self.seen = state.num_input_tokens_seen

    def on_step_end(self, args, state, control, **kwargs):
        tokens = state.num_input_tokens_seen - self.seen
        self.measure.computed.append(tokens)
        self.measure.trained.append(tokens)
        self.measure.padded.append(tokens)


def method_config(model: str, method: str, steps: int) -> RunConfig:
    dataset = str(GRPO_DATA) if method == "grpo" else default_dataset("dpo")
    return studio_config(loading.resolve_model(model), dataset, method, steps)  # batch 4 (GRPO: prompts)


def method_figures(model: str, method: str, steps: int, warmup: int, completion: int | None = None) -> dict:
    """One method's studio run: seconds a step, samples and tokens per second (``completion``:
    GRPO's answer length when not the default, for --quick)."""
    config = method_config(model, method, steps + warmup)
    config.grpo.max_completion_length = completion or config.grpo.max_completion_length
    plan = plan_run(config)
    measure = Measure(warmup, batch=config.train.batch_size)
    with tempfile.TemporaryDirectory() as out:
        trainer = build_trainer(plan, out)
        if method == "grpo":
            trainer.add_callback(_GeneratedTokens(measure))
        else:
            trainer.data_collator = _Counted(trainer.data_collator, measure)
        trainer.add_callback(_StepTimer(measure))
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
    for series in (measure.computed, measure.trained, measure.padded):
        del series[len(measure.ends) :]  # a batch the loader fetched past the last step
    result = measure.result()
    figures = {
        "precision": plan.precision,
        "steps": result["steps"],
        "seconds_per_step": result["seconds_per_step"],
        "tokens_per_s": result["tokens_per_s"],
    }
    if method == "grpo":
        g = config.grpo
        figures.update(
            group_size=g.num_generations,
            max_completion_length=g.max_completion_length,
            prompts_per_s=result["samples_per_s"],
            completions_per_s=round(result["samples_per_s"] * g.num_generations, 3),
        )
    else:
        figures["samples_per_s"] = result["samples_per_s"]
    figures["train_seconds"] = round(wall, 1)
    return figures
