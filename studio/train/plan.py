"""Plan a run: everything decided before a model is loaded.

    plan = plan_run(config)   # config checked, data read and split, rows rendered, steps counted

The review panel (studio.train.review) calls the same functions, so the form shows the numbers
the training will use.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from studio.config import RunConfig
from studio.data import DataError, LoadedData, load_data, split
from studio.models import loading
from studio.models.device import DeviceInfo, detect, resolve_precision
from studio.schema import ConfigError, Problem
from studio.train import checks


@dataclass
class Plan:
    """Everything decided before a model is loaded."""

    config: RunConfig
    device: DeviceInfo
    precision: str
    tokenizer: object
    data: LoadedData
    train: checks.Preflight
    val: checks.Preflight | None
    problems: list[Problem] = field(default_factory=list)
    val_data: LoadedData | None = None  # the separate validation file, when data.val_dataset names one

    @property
    def world_size(self) -> int:
        return world_size(self.device)

    @property
    def effective_batch(self) -> int:
        t = self.config.train
        return t.batch_size * t.grad_accum * self.world_size

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


def planned_steps(rows: int, config: RunConfig, world_size: int = 1) -> int:
    """Optimizer steps: max_steps if set, else ceil(rows / effective batch) x epochs."""
    t = config.train
    if t.max_steps > 0:
        return t.max_steps
    per_epoch = math.ceil(rows / (t.batch_size * t.grad_accum * world_size)) if rows else 0
    return math.ceil(per_epoch * t.epochs)


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


def plan_run(config: RunConfig, device: DeviceInfo | None = None, data: LoadedData | None = None) -> Plan:
    """Validate the config, read and render the data; raises ConfigError listing every blocking problem."""
    device = device or detect()
    problems = checks.validate(config, device.kind)
    if any(p.level == "error" for p in problems):
        raise ConfigError([p for p in problems if p.level == "error"])
    precision = resolve_precision(config.model.precision, device)
    tokenizer = loading.load_tokenizer(config.model.model)
    d, t = config.data, config.train
    if data is None:
        data = load_data(d.dataset, d.format, d.columns, d.system_prompt, d.max_rows)
    if data.skipped:
        problems.append(
            Problem("dataset", f"{len(data.skipped)} rows skipped: " + "; ".join(map(str, data.skipped[:5])), "warning")
        )
    blocking = checks.template_problems(tokenizer, config, data.kind, data.format)
    if blocking:
        raise ConfigError(blocking)
    numbered = list(zip(data.rows, data.row_numbers, strict=True))
    val_data = None
    if d.val_dataset.strip():
        val_data = load_validation(d, data.kind)
        train_rows, val_rows = numbered, list(zip(val_data.rows, val_data.row_numbers, strict=True))
    else:
        train_rows, val_rows = split(numbered, d.val_fraction, t.seed)

    def run_preflight(pairs):
        rows = [r for r, _ in pairs]
        numbers = [n for _, n in pairs]
        if t.method == "dpo":
            return checks.preflight_dpo(tokenizer, rows, numbers, t.max_length)
        return checks.preflight_sft(tokenizer, rows, numbers, t.max_length, t.assistant_only_loss)

    train = run_preflight(train_rows)
    val = run_preflight(val_rows) if val_rows else None
    problems += train.problems
    if any(p.level == "error" for p in problems):
        raise ConfigError([p for p in problems if p.level == "error"])
    return Plan(config, device, precision, tokenizer, data, train, val, problems, val_data)
