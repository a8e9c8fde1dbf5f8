"""What every method's trainer shares: the datasets, the adapter config and the construction.

Each method module builds its own TRL config, then calls ``assemble`` with the TRL trainer class;
the adapter's base is recorded and a frozen reference model (full DPO/KTO) is told so here, once.
"""

from __future__ import annotations

import random

from datasets import Dataset

from studio.train.model import lora_config, record_base
from studio.train.plan import Plan


def datasets(plan: Plan, args: dict, shuffle_seed: int | None = None, min_val: int = 1):
    """(train, val) as datasets; val is None when evaluation is off or has fewer than ``min_val`` rows.
    ``shuffle_seed`` shuffles both (seeded) for methods whose loss depends on the batch's order."""

    def make(examples):
        rows = list(examples)
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(rows)
        return Dataset.from_list(rows)

    evaluate = plan.val and len(plan.val.examples) >= min_val and args["eval_strategy"] != "no"
    return make(plan.train.examples), make(plan.val.examples) if evaluate else None


def adapter_config(plan: Plan):
    """The LoRA config TRL attaches from ``peft_config`` (None for a full fine-tune)."""
    return lora_config(plan.config) if plan.config.adapter.adapter != "full" else None


def assemble(trainer_cls, plan: Plan, model, method_args, callbacks: list, data, peft_config=None, **extra):
    """``trainer_cls`` on ``data`` (train, val); ``extra`` goes to the constructor (e.g. reward_funcs)."""
    train, val = data
    trainer = trainer_cls(
        model=model,
        args=method_args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=plan.tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
        **extra,
    )
    if peft_config is not None:
        record_base(trainer.model, plan.config)
    elif getattr(trainer, "ref_model", None) is not None:
        trainer.ref_model.requires_grad_(False)  # TRL only calls it under no_grad; say so to autograd too
        trainer.ref_model.eval()
    return trainer
