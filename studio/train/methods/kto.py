"""KTO: TRL's KTOTrainer on answers labelled good or bad (no pairs needed).

Rows arrive as {prompt, completion, label} (studio.train.preflight_rl; a preference pair gives
one good and one bad example). TRL estimates the KL term from mismatched prompt/answer pairs
within a batch taken in order, so the examples are shuffled here, seeded, and a batch needs at
least two. With LoRA the reference is the base with the adapter off, as for DPO.
"""

from __future__ import annotations

import random

from datasets import Dataset
from trl import KTOConfig, KTOTrainer

from studio.train.model import lora_config, record_base
from studio.train.plan import Plan


def _shuffled(examples: list[dict], seed: int) -> Dataset:
    order = list(examples)
    random.Random(seed).shuffle(order)
    return Dataset.from_list(order)


def build(plan: Plan, model, args: dict, callbacks: list):
    t, k = plan.config.train, plan.config.kto
    kto_args = KTOConfig(
        **args,
        max_length=t.max_length,
        beta=plan.config.dpo.beta,
        desirable_weight=k.kto_desirable_weight,
        undesirable_weight=k.kto_undesirable_weight,
        dataset_num_proc=None,
    )
    train = _shuffled(plan.train.examples, t.seed)
    val = (
        _shuffled(plan.val.examples, t.seed)
        if plan.val and len(plan.val.examples) > 1 and args["eval_strategy"] != "no"
        else None
    )
    peft_config = lora_config(plan.config) if plan.config.adapter.adapter != "full" else None
    trainer = KTOTrainer(
        model=model,
        ref_model=None,
        args=kto_args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=plan.tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )
    if peft_config is not None:
        record_base(trainer.model, plan.config)
    elif trainer.ref_model is not None:
        trainer.ref_model.requires_grad_(False)
        trainer.ref_model.eval()
    return trainer
