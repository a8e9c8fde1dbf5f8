"""GRPO: TRL's GRPOTrainer on prompts, scored by the built-in reward functions (studio.train.methods.grpo_rewards).

Each optimizer step samples ``num_generations`` answers per prompt (the group), scores them with
the weighted reward functions, and reinforces the answers above their group's mean; no value
model. ``batch_size`` counts prompts here: TRL's batch counts answers, so it is batch_size x the
group size. With LoRA and kl_beta > 0 the KL reference is the base with the adapter off. TRL logs
each reward function's mean and spread (``rewards/<name>/mean``, ``/std``), the total ``reward``,
``kl``, ``entropy``, the completion lengths and the clipped share; they reach metrics.jsonl.
Every sampled answer is also written with its scores to ``completions.jsonl`` (the Train tab's
table). A reward model trained in the studio is looked up in the runs folder the run trains in.
"""

from __future__ import annotations

from pathlib import Path

from trl import GRPOConfig, GRPOTrainer

from studio.train.methods.common import adapter_config, assemble, datasets
from studio.train.methods.grpo_answers import CompletionLog
from studio.train.methods.grpo_rewards import reward_functions
from studio.train.plan import Plan


def grpo_arguments(plan: Plan, args: dict, weights: list[float]) -> GRPOConfig:
    g = plan.config.grpo
    args = dict(args)
    args["per_device_train_batch_size"] *= g.num_generations
    args["per_device_eval_batch_size"] = args["per_device_train_batch_size"]
    return GRPOConfig(
        **args,
        num_generations=g.num_generations,
        max_completion_length=g.max_completion_length,
        beta=g.kl_beta,
        temperature=g.grpo_temperature,
        num_iterations=g.num_iterations,
        reward_weights=weights,
        log_completions=False,
    )


def build(plan: Plan, model, args: dict, callbacks: list):
    run_dir = Path(args["output_dir"]).parent  # output_dir is the run's checkpoints folder
    funcs, weights = reward_functions(plan.config.grpo, run_dir.parent)
    log = CompletionLog(run_dir, weights)
    funcs = [log.wrap(f) for f in funcs]
    grpo_args = grpo_arguments(plan, args, weights)
    data = datasets(plan, args)
    trainer = assemble(GRPOTrainer, plan, model, grpo_args, callbacks, data, adapter_config(plan), reward_funcs=funcs)
    log.trainer = trainer
    return trainer
