"""ORPO: TRL's ORPOTrainer on preference pairs, reference-free (an SFT loss plus an odds-ratio term).

No reference model is kept: the loss is the chosen answer's NLL plus beta times
-log sigmoid(log odds(chosen) - log odds(rejected)). TRL logs the rewards, ``log_odds_ratio``
and ``log_odds_chosen`` beside the loss; they reach metrics.jsonl.
"""

from __future__ import annotations

from trl.experimental.orpo import ORPOConfig, ORPOTrainer

from studio.train.methods.common import adapter_config, assemble, datasets
from studio.train.plan import Plan


def build(plan: Plan, model, args: dict, callbacks: list):
    t = plan.config.train
    orpo_args = ORPOConfig(**args, max_length=t.max_length, beta=plan.config.dpo.beta, dataset_num_proc=None)
    return assemble(ORPOTrainer, plan, model, orpo_args, callbacks, datasets(plan, args), adapter_config(plan))
