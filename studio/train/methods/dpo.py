"""DPO: TRL's DPOTrainer on preference pairs; with LoRA the reference is the base with the adapter off."""

from __future__ import annotations

from datasets import Dataset
from trl import DPOConfig, DPOTrainer

from studio.train.model import lora_config, record_base
from studio.train.plan import Plan


def build(plan: Plan, model, args: dict, callbacks: list):
    t, dpo = plan.config.train, plan.config.dpo
    dpo_args = DPOConfig(
        **args,
        max_length=t.max_length,
        beta=dpo.beta,
        loss_type=[dpo.dpo_loss],
        label_smoothing=dpo.dpo_label_smoothing,
        include_num_input_tokens_seen="non_padding",
    )
    train = Dataset.from_list(plan.train.examples)
    val = (
        Dataset.from_list(plan.val.examples)
        if plan.val and plan.val.examples and args["eval_strategy"] != "no"
        else None
    )
    # The adapter is attached by TRL from peft_config: given an already wrapped PeftModel, TRL 1.16
    # copies the adapter into a second "ref" adapter; given the base, the reference is the base
    # itself with the adapter disabled (no second copy in memory or in the saved adapter).
    # Full DPO has no adapter to disable: TRL loads a frozen reference copy of the model.
    peft_config = lora_config(plan.config) if plan.config.adapter.adapter != "full" else None
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=dpo_args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=plan.tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )
    if peft_config is not None:
        record_base(trainer.model, plan.config)
    elif trainer.ref_model is not None:
        trainer.ref_model.requires_grad_(False)  # TRL only calls it under no_grad; say so to autograd too
        trainer.ref_model.eval()
    return trainer
