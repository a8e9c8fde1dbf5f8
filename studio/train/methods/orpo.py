"""ORPO: TRL's ORPOTrainer on preference pairs, reference-free (an SFT loss plus an odds-ratio term).

No reference model is kept: the loss is the chosen answer's NLL plus beta times
-log sigmoid(log odds(chosen) - log odds(rejected)). TRL logs the rewards, ``log_odds_ratio``
and ``log_odds_chosen`` beside the loss; they reach metrics.jsonl.
"""

from __future__ import annotations

from datasets import Dataset
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

from studio.train.model import lora_config, record_base
from studio.train.plan import Plan


def build(plan: Plan, model, args: dict, callbacks: list):
    t = plan.config.train
    orpo_args = ORPOConfig(**args, max_length=t.max_length, beta=plan.config.dpo.beta, dataset_num_proc=None)
    train = Dataset.from_list(plan.train.examples)
    val = (
        Dataset.from_list(plan.val.examples)
        if plan.val and plan.val.examples and args["eval_strategy"] != "no"
        else None
    )
    peft_config = lora_config(plan.config) if plan.config.adapter.adapter != "full" else None
    trainer = ORPOTrainer(
        model=model,
        args=orpo_args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=plan.tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )
    if peft_config is not None:
        record_base(trainer.model, plan.config)
    return trainer
