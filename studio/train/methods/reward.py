"""Reward model: TRL's RewardTrainer on preference pairs; the base gets a one-output score head.

The model is a sequence classifier (``num_labels=1``) whose score for a conversation is the
reward; the loss pushes the chosen answer's score above the rejected one's. With LoRA the
adapter trains together with the new score head (PEFT's SEQ_CLS task keeps the head trainable
and saves it beside the adapter). TRL logs ``accuracy`` (the share of pairs scored the right
way round) and ``margin`` (chosen minus rejected score), which reach metrics.jsonl.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForSequenceClassification, set_seed
from trl import RewardConfig, RewardTrainer

from studio.models import loading
from studio.models.device import torch_dtype
from studio.patches.packed_attention import use_packed_attention
from studio.schema import ConfigError
from studio.train import checks
from studio.train.methods.common import adapter_config, assemble, datasets
from studio.train.plan import Plan


def load_model(plan: Plan):
    """The base as a one-output sequence classifier (the score head is new, seeded by the run)."""
    set_seed(plan.config.train.seed)
    full = plan.config.adapter.adapter == "full"
    dtype = torch.float32 if full or plan.precision == "fp32" else torch_dtype(plan.precision)
    name = plan.config.model.model
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            loading.resolve_model(name), num_labels=1, dtype=dtype, attn_implementation="sdpa"
        )
    except OSError as exc:
        raise loading.hub_failure(name, exc) from exc
    model.config.pad_token_id = plan.tokenizer.pad_token_id
    if plan.device.kind == "cpu":  # attention one example at a time: its padded batches skip their padding
        use_packed_attention(model)
    if not full:
        problems = checks.target_problems(plan.config.adapter.target_modules, {n for n, _ in model.named_modules()})
        if problems:
            raise ConfigError(problems)
    return model


def build(plan: Plan, model, args: dict, callbacks: list):
    t = plan.config.train
    reward_args = RewardConfig(**args, max_length=t.max_length, dataset_num_proc=None)
    peft_config = adapter_config(plan)
    if peft_config is not None:
        peft_config.task_type = "SEQ_CLS"
        peft_config.modules_to_save = ["score"]  # the new head trains in full and is saved with the adapter
    return assemble(RewardTrainer, plan, model, reward_args, callbacks, datasets(plan, args), peft_config)
