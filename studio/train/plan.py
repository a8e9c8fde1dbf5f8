"""Plan a run: everything decided before a model is loaded.

    plan = plan_run(config)   # config checked, data read and split, rows rendered, steps counted

The review panel (studio.train.review) calls the same functions, so the form shows the numbers
the training will use.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from studio.config import METHODS, RunConfig
from studio.data import DataError, LoadedData, canonicalize, load_data, split
from studio.models import loading, meta
from studio.models.device import DeviceInfo, detect, resolve_precision
from studio.schema import ConfigError, Problem
from studio.train import checks, preflight_rl
from studio.train.preflight import Preflight, preflight_dpo, preflight_sft


@dataclass
class Plan:
    """Everything decided before a model is loaded."""

    config: RunConfig
    device: DeviceInfo
    precision: str
    tokenizer: object
    data: LoadedData
    train: Preflight
    val: Preflight | None
    problems: list[Problem] = field(default_factory=list)
    val_data: LoadedData | None = None  # the separate validation file, when data.val_dataset names one

    @property
    def world_size(self) -> int:
        return world_size(self.device)

    @property
    def total_steps(self) -> int:
        return planned_steps(len(self.train.examples), self.config, self.world_size)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def world_size(device: DeviceInfo) -> int:
    """Processes (accelerate launch / torchrun), else the GPUs one process drives (DataParallel)."""
    launched = int(os.environ.get("WORLD_SIZE", "0") or 0)
    if launched:
        return launched
    return max(1, device.count) if device.kind == "cuda" else 1


def effective_batch(config: RunConfig, world_size: int = 1) -> int:
    """Examples per optimizer step: batch x accumulation x processes."""
    return config.train.batch_size * config.train.grad_accum * world_size


def steps_per_epoch(rows: int, config: RunConfig, world_size: int = 1) -> int:
    """Optimizer steps in one pass over ``rows``: ceil(rows / effective batch)."""
    return math.ceil(rows / effective_batch(config, world_size)) if rows else 0


def generation_cycle(config: RunConfig) -> int:
    """Optimizer steps that train on one generated batch: GRPO's num_iterations, 1 for the other
    methods. TRL keeps that batch in memory only, so a checkpoint (and a Stop) lands at the end of
    a cycle: one inside it would resume on fresh samples, not the run's own."""
    return config.grpo.num_iterations if config.train.method == "grpo" else 1


def planned_steps(rows: int, config: RunConfig, world_size: int = 1) -> int:
    """Optimizer steps: max_steps if set, else steps per epoch x epochs (rounded up). GRPO takes
    num_iterations optimizer steps on each generated batch, and TRL's sampler drops the prompts
    that do not fill one (the epoch rounds down), as transformers then counts."""
    t = config.train
    if t.max_steps > 0:
        return t.max_steps
    if t.method == "grpo":
        return math.ceil(max(1, rows // effective_batch(config, world_size) * generation_cycle(config)) * t.epochs)
    return math.ceil(steps_per_epoch(rows, config, world_size) * t.epochs)


def split_rows(d, seed: int, rows: list, val_data: LoadedData | None = None) -> tuple[list, list]:
    """Training and validation items of ``d`` (a DataConfig): with a validation file every row
    trains and the file's rows (numbered) validate; else the seeded ``val_fraction`` split."""
    if d.val_dataset.strip():
        held = list(zip(val_data.rows, val_data.row_numbers, strict=True)) if val_data is not None else []
        return list(rows), held
    return split(rows, d.val_fraction, seed)


def load_validation(d, train_kind: str) -> LoadedData:
    """The separate validation file of ``d`` (a DataConfig), read like the training data; it must
    hold the same kind of rows (chat, text or preference). Raises ConfigError naming val_dataset."""
    try:
        val = load_data(d.val_dataset.strip(), d.format, d.columns, d.system_prompt)
    except DataError as exc:
        raise ConfigError([Problem("val_dataset", str(exc))]) from None
    if val.kind != train_kind:
        raise ConfigError(
            [
                Problem(
                    "val_dataset",
                    f"{d.val_dataset} holds {val.kind} rows ({val.format}) but {d.dataset} holds {train_kind} rows: "
                    "give a validation file in the training data's format",
                )
            ]
        )
    return val


def as_kto(data: LoadedData, d) -> LoadedData:
    """A KTO run with format auto reads chat rows that carry a label as format kto (auto alone reads
    them as messages, for SFT)."""
    if d.format != "auto" or data.format != "messages" or "label" not in data.columns:
        return data
    converted = canonicalize(data.raw_rows, "kto", d.system_prompt, data.source)
    converted.notes = data.notes
    return converted


def preflight(tokenizer, config: RunConfig, pairs: list) -> Preflight:
    """The rows of ``pairs`` ((row, number) each) checked and shaped for the run's method."""
    t = config.train
    rows = [r for r, _ in pairs]
    numbers = [n for _, n in pairs]
    shape = METHODS[t.method].rows  # what one example is (studio.config.method_table)
    if shape == "pair":
        return preflight_dpo(tokenizer, rows, numbers, t.max_length)
    if shape == "labelled":
        return preflight_rl.preflight_kto(tokenizer, rows, numbers, t.max_length)
    if shape == "prompt":
        g = config.grpo
        column = g.answer_column.strip() if g.reward_exact > 0 else ""
        return preflight_rl.preflight_prompts(tokenizer, rows, numbers, t.max_length, column)
    return preflight_sft(tokenizer, rows, numbers, t.max_length, t.assistant_only_loss)


def _family_problems(model: str, method: str) -> list[Problem]:
    """The model's family against the studio's table (checks.family_problems), from its config alone."""
    try:
        model_type = meta.model_config(model)[0].model_type
    except ValueError:  # not found or offline: loading the tokenizer next says so
        return []
    return checks.family_problems(model_type, method)


def plan_run(config: RunConfig, device: DeviceInfo | None = None, data: LoadedData | None = None) -> Plan:
    """Validate the config, read and render the data; raises ConfigError listing every blocking problem."""
    device = device or detect()
    problems = checks.validate(config, device.kind)
    if any(p.level == "error" for p in problems):
        raise ConfigError([p for p in problems if p.level == "error"])
    problems += _family_problems(config.model.model, config.train.method)
    if any(p.level == "error" for p in problems):  # before any weight or tokenizer loads
        raise ConfigError([p for p in problems if p.level == "error"])
    precision = resolve_precision(config.model.precision, device)
    tokenizer = loading.load_tokenizer(config.model.model, config.model.chat_template, fallback=False)
    d, t = config.data, config.train
    if data is None:
        data = load_data(d.dataset, d.format, d.columns, d.system_prompt, d.max_rows)
    labelled = METHODS[t.method].rows == "labelled"  # KTO: answers labelled good or bad
    if labelled:
        data = as_kto(data, d)
    if data.skipped:
        problems.append(
            Problem("dataset", f"{len(data.skipped)} rows skipped: " + "; ".join(map(str, data.skipped[:5])), "warning")
        )
    blocking = checks.template_problems(tokenizer, config, data.kind, data.format)
    if t.method == "grpo" and config.grpo.reward_exact > 0 and data.kind == "prompt":
        missing = preflight_rl.answer_column_problem(data.columns, config.grpo.answer_column.strip())
        blocking += [missing] if missing else []
    if blocking:
        raise ConfigError(blocking)
    numbered = list(zip(data.rows, data.row_numbers, strict=True))
    val_data = load_validation(d, data.kind) if d.val_dataset.strip() else None
    if val_data is not None and labelled:
        val_data = as_kto(val_data, d)
    train_rows, val_rows = split_rows(d, t.seed, numbered, val_data)
    train = preflight(tokenizer, config, train_rows)
    val = preflight(tokenizer, config, val_rows) if val_rows else None
    problems += train.problems
    if any(p.level == "error" for p in problems):
        raise ConfigError([p for p in problems if p.level == "error"])
    return Plan(config, device, precision, tokenizer, data, train, val, problems, val_data)
