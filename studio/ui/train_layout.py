"""Where each RunConfig field sits in the Train form: sections in endpoint order, then the layout."""

from __future__ import annotations

from studio.config import RunConfig
from studio.schema import typed_fields

# The RunConfig sections in the order of the form's values in the named endpoints
# (start_training, review_config, ...); LAYOUT below decides where each field is shown.
SECTIONS = RunConfig.sections()
# How the form is laid out: groups of rows, each row a few fields side by side.
LAYOUT = [
    ("Model and method", True, [["model", "precision", "method", "adapter"]]),
    (
        "LoRA adapter",
        True,
        [["lora_r", "lora_alpha", "lora_dropout"], ["target_modules", "use_rslora", "use_dora", "compute_dtype"]],
    ),
    (
        "Data",
        True,
        [
            ["dataset", "format", "columns"],
            ["system_prompt", "chat_template", "val_fraction", "max_rows"],
            ["val_dataset"],
        ],
    ),
    (
        "Optimisation",
        True,
        [
            ["epochs", "max_steps", "batch_size", "grad_accum"],
            ["learning_rate", "scheduler", "warmup_ratio", "weight_decay"],
            ["max_grad_norm", "optim", "seed"],
        ],
    ),
    (
        "Sequences and memory",
        True,
        [["max_length", "packing", "padding_free", "assistant_only_loss", "gradient_checkpointing"]],
    ),
    (
        "Evaluation, checkpoints, early stopping, tracker",
        False,
        [["logging_steps", "eval_steps", "save_steps", "save_total_limit", "early_stopping_patience"], ["report_to"]],
    ),
    ("DPO and ORPO", False, [["beta", "dpo_loss", "dpo_label_smoothing"]]),
    ("KTO", False, [["kto_desirable_weight", "kto_undesirable_weight"]]),
    (
        "GRPO",
        False,
        [
            ["num_generations", "max_completion_length", "kl_beta", "grpo_temperature", "num_iterations"],
            ["reward_exact", "answer_column", "reward_format", "format_regex"],
            ["reward_length", "length_target", "reward_no_repeat"],
            ["reward_model", "reward_model_run"],
        ],
    ),
    ("Probe prompts", False, [["probe_prompts", "probe_max_new_tokens"]]),
    (
        "Where to run",
        False,
        [
            ["on", "strategy", "num_processes"],
            ["ray_address", "ray_workers", "cpus_per_worker", "gpus_per_worker", "max_failures"],
        ],
    ),
]


def field_order() -> list[str]:
    defaults = RunConfig()
    names = [f.name for section in SECTIONS for f, _, _ in typed_fields(getattr(defaults, section))]
    return names + ["run_name"]


def field_owner(defaults: RunConfig) -> dict[str, object]:
    """Field name -> the section object holding it."""
    out = {"run_name": defaults}
    for section in SECTIONS:
        for f, _, _ in typed_fields(getattr(defaults, section)):
            out[f.name] = getattr(defaults, section)
    return out
