"""DPO: TRL's DPOTrainer on preference pairs; with LoRA the reference is the base with the adapter off."""

from __future__ import annotations

from trl import DPOConfig, DPOTrainer

from studio.train.methods.common import adapter_config, assemble, datasets
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
    # The adapter is attached by TRL from peft_config: given an already wrapped PeftModel, TRL 1.16
    # copies the adapter into a second "ref" adapter; given the base, the reference is the base
    # itself with the adapter disabled (no second copy in memory or in the saved adapter).
    # Full DPO has no adapter to disable: TRL loads a frozen reference copy of the model.
    data = datasets(plan, args)
    return assemble(DPOTrainer, plan, model, dpo_args, callbacks, data, adapter_config(plan), ref_model=None)
