"""Checks before a run starts: each problem names its field, says what is wrong and the fix.

``validate`` needs only the config (instant, run as the user types); ``target_problems`` needs
the model's module names (read on the meta device, no weights); ``template_problems`` needs the
tokenizer. The rows themselves are checked by studio.train.preflight, before any model is loaded.
"""

from __future__ import annotations

from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
)

from studio.config import METHODS, OPTIMIZERS, TARGET_PRESETS, RunConfig
from studio.data import templates
from studio.models import families, meta
from studio.schema import Problem, bounds_problems
from studio.train import trackers
from studio.train.method_data import method_data_problem
from studio.train.methods.grpo_rewards import regex_problem
from studio.train.placement import gpus_here, launch_problems

# Losses that read dpo_label_smoothing: its legal range for each (open at both ends, as TRL's
# exo_pair takes log(eps) and log(1 - eps)), and the hint. Within the field's own bounds (0 to 1).
SMOOTHED_LOSSES = {
    "robust": ((0.0, 0.5), "below 0.5, e.g. 0.1", True),
    "exo_pair": ((0.0, 1.0), "above 0 and below 1, e.g. 0.001", False),
}


def optimizer_choices(device_kind: str) -> list[str]:
    """The optimizers honest on this kind of device (an unknown kind is treated as a CPU)."""
    kind = device_kind if device_kind in ("cuda", "cpu", "mps") else "cpu"
    return [name for name, optimizer in OPTIMIZERS.items() if kind in optimizer.devices]


def validate(config: RunConfig, device_kind: str = "cpu") -> list[Problem]:
    """Problems visible from the config alone, each at its field (at most one error per field:
    the bound from the field's metadata first, then the rules across fields)."""
    problems: list[Problem] = []
    for section in config.sections():
        problems += bounds_problems(getattr(config, section))
    problems += _train_problems(config)
    problems += _adapter_problems(config, device_kind)
    problems += _hardware_problems(config, device_kind)
    problems += _dpo_problems(config)
    problems += _method_problems(config)
    problems += _tracker_problems(config)
    problems += launch_problems(config, gpus_here(device_kind))
    return one_error_per_field(problems)


def _tracker_problems(config: RunConfig) -> list[Problem]:
    """A tracker whose package is missing is refused here, not deep inside the trainer."""

    name = config.train.report_to
    return [] if trackers.installed(name) else [Problem("report_to", trackers.missing_message(name))]


def one_error_per_field(problems: list[Problem]) -> list[Problem]:
    """Drop the later errors of a field that already has one; warnings stay."""
    seen, out = set(), []
    for p in problems:
        if p.level == "error":
            if p.field in seen:
                continue
            seen.add(p.field)
        out.append(p)
    return out


def _train_problems(config: RunConfig) -> list[Problem]:
    t, d = config.train, config.data
    out = []
    if t.max_steps <= 0 and t.epochs <= 0:
        out.append(Problem("epochs", "set epochs above 0, or max_steps above 0"))
    has_val = d.val_fraction > 0 or bool(d.val_dataset.strip())
    if t.eval_steps > 0 and not has_val:
        out.append(
            Problem("eval_steps", "evaluation needs a validation split: set val_fraction, e.g. 0.05, or val_dataset")
        )
    if t.early_stopping_patience > 0 and (t.eval_steps <= 0 or not has_val):
        out.append(
            Problem(
                "early_stopping_patience", "needs eval_steps > 0 and a validation split (val_fraction or val_dataset)"
            )
        )
    if t.packing and t.method != "sft":
        out.append(Problem("packing", f"packing applies to SFT only; it is ignored for {t.method.upper()}", "warning"))
    # GRPO shows the answers it samples at every step (studio.train.methods.grpo_answers): probes before and after
    # are all it needs, and its shipped preset asks for no evaluation along the way.
    if config.probes.prompts() and t.eval_steps <= 0 and t.method != "grpo":
        out.append(
            Problem(
                "probe_prompts", "probes are answered at each evaluation; with eval_steps 0 only at the end", "warning"
            )
        )
    return out


def _adapter_problems(config: RunConfig, device_kind: str) -> list[Problem]:
    a, t = config.adapter, config.train
    out = []
    if a.adapter == "full":
        if t.learning_rate > 1e-4:
            out.append(
                Problem(
                    "learning_rate",
                    f"{t.learning_rate:g} is high for full fine-tuning; 1e-5 to 5e-5 is usual",
                    "warning",
                )
            )
        return out
    if not a.target_modules.strip():
        out.append(Problem("target_modules", f"name at least one module, or a preset: {', '.join(TARGET_PRESETS)}"))
    if a.use_dora and a.adapter == "qlora":
        out.append(Problem("use_dora", "DoRA on a 4-bit base is slow and memory-hungry; consider LoRA", "warning"))
    if a.adapter == "qlora" and device_kind == "mps":
        out.append(Problem("adapter", "QLoRA needs bitsandbytes, which has no Apple GPU backend; use lora"))
    return out


def _hardware_problems(config: RunConfig, device_kind: str) -> list[Problem]:
    t = config.train
    out = []
    allowed = optimizer_choices(device_kind)
    if t.optim not in allowed:
        why = "needs a CUDA GPU" if t.optim.startswith("paged") or device_kind == "mps" else "is not available"
        out.append(Problem("optim", f"{t.optim} {why} on this {device_kind}; choose one of {', '.join(allowed)}"))
    if config.model.precision == "fp16" and device_kind == "cpu":
        out.append(Problem("precision", "fp16 mixed precision needs a GPU; use auto or fp32 on a CPU"))
    return out


def _dpo_problems(config: RunConfig) -> list[Problem]:
    dpo = config.dpo
    if config.train.method != "dpo":
        return []
    out = []
    if dpo.dpo_loss in SMOOTHED_LOSSES:
        (low, high), hint, zero_ok = SMOOTHED_LOSSES[dpo.dpo_loss]
        value = dpo.dpo_label_smoothing
        if not (low < value < high or (zero_ok and value == low)):
            out.append(Problem("dpo_label_smoothing", f"the {dpo.dpo_loss} loss needs it {hint}"))
    elif dpo.dpo_label_smoothing:
        out.append(
            Problem("dpo_label_smoothing", f"only robust and exo_pair use it; {dpo.dpo_loss} ignores it", "warning")
        )
    if config.adapter.adapter == "full" and config.train.learning_rate > 1e-5:
        out.append(Problem("learning_rate", "full DPO usually wants 5e-7 to 5e-6", "warning"))
    return out


def _method_problems(config: RunConfig) -> list[Problem]:
    """What the method's row allows (fine-tuning types, the smallest batch), and GRPO's rewards:
    what the config alone shows (the regex compiles, a reward is on)."""

    t, g = config.train, config.grpo
    row, adapter = METHODS[t.method], config.adapter.adapter
    out = []
    if adapter not in row.adapters:
        out.append(Problem("adapter", f"{row.title} trains with {' or '.join(row.adapters)} here, not {adapter}"))
    if t.batch_size < row.min_batch:
        why = f"{row.title} compares the examples within a batch"  # KTO: its KL term
        out.append(Problem("batch_size", f"{why}: use a batch size of {row.min_batch} or more"))
    if t.method != "grpo":
        return out
    weights = {"reward_exact": g.reward_exact, "reward_format": g.reward_format}
    weights |= {
        "reward_length": g.reward_length,
        "reward_no_repeat": g.reward_no_repeat,
        "reward_model": g.reward_model,
    }
    if not any(w > 0 for w in weights.values()):
        out.append(Problem("reward_exact", f"GRPO needs a reward: give one of {', '.join(weights)} a weight above 0"))
    if g.reward_format > 0:
        problem = regex_problem(g.format_regex)
        if problem:
            out.append(Problem("format_regex", problem + "; fix it or set reward_format to 0"))
    if g.reward_exact > 0 and not g.answer_column.strip():
        out.append(Problem("answer_column", "name the column holding the reference answers, e.g. answer"))
    if g.reward_model > 0 and not g.reward_model_run.strip():
        out.append(Problem("reward_model_run", "name a completed reward-model run, or set reward_model to 0"))
    return out


# -- the model -----------------------------------------------------------------------------------


def family_problems(model_type: str, method: str = "sft") -> list[Problem]:
    """An architecture transformers cannot train as a causal LM is refused, naming the families the
    studio proves; so is one with no score-head class for a method that trains one (a reward model:
    transformers 5.23 has none for granite). One outside the families trains with the plain
    libraries, with a warning."""
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return [
            Problem(
                "model",
                f"the {model_type} architecture has no causal language model to train; "
                f"pick a model of a supported family: {families.supported_text()}",
            )
        ]
    if METHODS[method].scorer and model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        return [
            Problem(
                "method",
                f"a {method} model is the base with a score head, and transformers has no score-head class "
                f"for the {model_type} architecture; pick a base of another family, or another method",
            )
        ]
    if families.family_of(model_type) is None:
        return [
            Problem(
                "model",
                f"the {model_type} family is not one the studio proves ({families.supported_text()}): "
                "it trains with the plain libraries (the CPU fast paths stay off); check the rendered "
                "text in the Data tab before a long run",
                "warning",
            )
        ]
    return []


def linear_names(module_names: set[str], linear: set[str] | None = None) -> list[str]:
    """Leaf names of the layers an adapter can target (from the model's Linear modules when given)."""
    names = linear if linear is not None else module_names
    leaves = {name.rsplit(".", 1)[-1] for name in names}
    if linear is None:
        leaves = {n for n in leaves if n.endswith("proj") or n in ("fc1", "fc2", "c_attn", "c_proj", "c_fc")}
    return sorted(leaves - {"lm_head"})


def target_problems(spec: str, module_names: set[str], linear: set[str] | None = None) -> list[Problem]:
    """Target modules (a preset's or a custom list) must exist in the model."""
    spec = spec.strip()
    if spec == "all-linear":
        return []
    wanted = TARGET_PRESETS.get(spec) or [m.strip() for m in spec.split(",") if m.strip()]
    leaves = {name.rsplit(".", 1)[-1] for name in module_names}
    missing = [m for m in wanted if m not in leaves and m not in module_names]
    if not missing:
        return []
    available = linear_names(module_names, linear)
    what = f"the preset {spec!r} needs" if spec in TARGET_PRESETS else "the list names"
    return [
        Problem(
            "target_modules",
            f"{what} {', '.join(missing)}, not in this model; its layers are {', '.join(available[:16])} "
            "(or use all-linear)",
        )
    ]


def template_overhead(tokenizer) -> int:
    """Tokens the chat template spends on an empty user turn and the assistant header."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": ""}], add_generation_prompt=True, tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _template_missing(tokenizer, config: RunConfig) -> Problem | None:
    """A model with no chat template of its own is asked for one, naming its family's, not given ChatML
    silently; a chosen template whose markers the tokenizer does not know is refused."""
    chosen = config.model.chat_template
    if chosen != "auto" and (unknown := templates.unknown_markers(tokenizer, chosen)):
        return Problem(
            "chat_template",
            f"the {chosen} template writes {', '.join(unknown)}, which this tokenizer does not know; pick the "
            "template of the model's family",
        )
    if tokenizer.chat_template is not None:
        return None
    try:
        family = families.family_of(meta.config_cached(config.model.model.strip())[0].model_type)
    except ValueError:
        family = None
    hint = f" (its family's is {family.template})" if family else ""
    return Problem(
        "chat_template",
        f"{config.model.model} has no chat template of its own: choose one{hint} among "
        f"{', '.join(templates.TEMPLATES)}, or train on plain text (a text column)",
    )


def template_problems(tokenizer, config: RunConfig, data_kind: str, data_format: str = "") -> list[Problem]:
    """max_length must leave room after the chat template's own tokens; DPO needs pairs."""
    t = config.train
    out = []
    problem = method_data_problem(t.method, data_kind, data_format)
    if problem:
        out.append(problem)
    if data_kind != "text" and (missing := _template_missing(tokenizer, config)):
        return [*out, missing]
    if data_kind != "text":
        overhead = template_overhead(tokenizer)
        if t.max_length <= overhead + 8:
            out.append(
                Problem(
                    "max_length",
                    f"{t.max_length} leaves no room: the chat template alone takes {overhead} tokens; "
                    f"use at least {overhead + 64}",
                )
            )
    return out
