"""Checks before a run starts: each problem names its field, says what is wrong and the fix.

``validate`` needs only the config (instant, run as the user types); ``model_problems`` needs
the model's module names (read on the meta device, no weights); ``template_problems`` needs the
tokenizer; ``preflight_sft`` / ``preflight_dpo`` render every row under the chat template and
refuse the rows that cannot train (with their row numbers) before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.config import OPTIMIZERS, TARGET_PRESETS, RunConfig
from studio.data import templates
from studio.data.render import chat_text, render_row
from studio.launch.checks import gpus_here, launch_problems
from studio.models import families, meta
from studio.schema import Problem, bounds_problems
from studio.train import trackers
from studio.train.method_data import method_data_problem
from studio.train.rewards import regex_problem

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
    # GRPO shows the answers it samples at every step (studio.train.completions): probes before and after
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
    """Reward models and GRPO: what their config alone shows (the regex compiles, a reward is on)."""

    t, g = config.train, config.grpo
    out = []
    if t.method == "reward" and config.adapter.adapter == "qlora":
        out.append(Problem("adapter", "a reward model trains with lora or full here, not qlora"))
    if t.method == "kto" and t.batch_size < 2:
        out.append(Problem("batch_size", "KTO estimates its KL term across a batch: use a batch size of 2 or more"))
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


def family_problems(model_type: str) -> list[Problem]:
    """An architecture transformers cannot train as a causal LM is refused, naming the families the
    studio proves; one outside those families trains with the plain libraries, with a warning."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return [
            Problem(
                "model",
                f"the {model_type} architecture has no causal language model to train; "
                f"pick a model of a supported family: {families.supported_text()}",
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


# -- the rows ------------------------------------------------------------------------------------


@dataclass
class Preflight:
    examples: list[dict] = field(default_factory=list)  # what the trainer receives, one per kept row
    row_numbers: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # source row -> reason
    problems: list[Problem] = field(default_factory=list)
    trained_tokens: int = 0
    total_tokens: int = 0
    longest: int = 0  # tokens of the longest kept example (a DPO pair counts its longer side)
    longest_labelled: int = 0  # labelled tokens of the longest sequence (SFT, DPO): what a CPU head projects

    def refused_text(self, limit: int = 10) -> str:
        items = list(self.refused.items())[:limit]
        more = f" and {len(self.refused) - limit} more" if len(self.refused) > limit else ""
        return "; ".join(f"row {r}: {why}" for r, why in items) + more


def preflight_sft(tokenizer, rows: list[dict], numbers: list[int], max_length: int, assistant_only: bool) -> Preflight:

    out = Preflight()
    for row, number in zip(rows, numbers, strict=True):
        rendered = render_row(tokenizer, row, max_length, assistant_only)
        if not rendered.input_ids:
            out.refused[number] = "renders to no tokens"
            continue
        if rendered.trained_tokens == 0:
            reason = (
                f"its prompt alone takes {rendered.prompt_tokens} tokens, over max_length {max_length}"
                if rendered.prompt_tokens >= max_length
                else "has nothing to train on (empty answer)"
            )
            out.refused[number] = reason
            continue
        out.examples.append({"input_ids": rendered.input_ids, "assistant_masks": rendered.assistant_masks})
        out.row_numbers.append(number)
        out.trained_tokens += rendered.trained_tokens
        out.total_tokens += len(rendered.input_ids)
        out.longest = max(out.longest, len(rendered.input_ids))
        out.longest_labelled = max(out.longest_labelled, rendered.trained_tokens)
    return _conclude(out, "dataset")


def _pair_problem(row: dict, n_prompt: int, n_chosen: int, n_rejected: int, max_length: int) -> str | None:
    if "prompt" not in row:
        return "is not a preference pair (needs prompt, chosen and rejected)"
    if n_prompt >= max_length:
        return f"its prompt alone takes {n_prompt} tokens, over max_length {max_length}"
    if not n_chosen or not n_rejected:
        return "chosen or rejected is empty"
    if row["chosen"] == row["rejected"]:
        return "chosen and rejected are identical: there is nothing to prefer"
    return None


def preflight_dpo(tokenizer, rows: list[dict], numbers: list[int], max_length: int) -> Preflight:

    out = Preflight()

    def count(messages: list[dict]) -> int:
        text = "".join(m["content"] for m in messages if m.get("content", "").strip())
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    for row, number in zip(rows, numbers, strict=True):
        n_prompt = n_chosen = n_rejected = 0
        if "prompt" in row:
            prompt_text = chat_text(tokenizer, row["prompt"], add_generation_prompt=True)
            n_prompt = len(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
            n_chosen, n_rejected = count(row["chosen"]), count(row["rejected"])
        reason = _pair_problem(row, n_prompt, n_chosen, n_rejected, max_length)
        if reason:
            out.refused[number] = reason
            continue
        out.examples.append({"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"]})
        out.row_numbers.append(number)
        longest = min(max_length, n_prompt + max(n_chosen, n_rejected))
        out.trained_tokens += min(n_chosen, max_length - n_prompt) + min(n_rejected, max_length - n_prompt)
        out.total_tokens += min(max_length, n_prompt + n_chosen) + min(max_length, n_prompt + n_rejected)
        out.longest = max(out.longest, longest)
        room = max_length - n_prompt
        out.longest_labelled = max(out.longest_labelled, min(n_chosen, room), min(n_rejected, room))
    return _conclude(out, "dataset")


def _conclude(out: Preflight, field_name: str) -> Preflight:
    if out.refused:
        level = "error" if not out.examples else "warning"
        out.problems.append(Problem(field_name, f"{len(out.refused)} rows refused: {out.refused_text()}", level))
    if not out.examples:
        out.problems.append(Problem(field_name, "no row is left to train on"))
    return out
