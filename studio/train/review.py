"""Everything the Train form shows before Start, recomputed as the user types.

    r = review(config)
    r.problems            # every field-level problem: config, model (meta device), data, template
    r.batch_text          # "effective batch 4 x 2 = 8; 212 rows -> 27 steps per epoch x 2 = 54 steps"
    r.estimate, r.fit     # parameters and memory, and the traffic light with what would make it fit
    r.time_text           # the step count, with a time once a similar run has been timed
    r.suggestion          # a method the data suits better than the chosen one (or None)

It never raises for a bad value: problems are returned at their fields. Data and tokenizers
are cached, so a keystroke costs milliseconds once the model and dataset were read once.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

# The model libraries' names, resolved in the importing (main) thread: transformers resolves its
# classes lazily and a first import racing another thread's first import fails ("cannot import
# name 'AutoTokenizer'"); the form's review runs on page load, beside whatever the user clicks first.
import peft  # noqa: F401
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401

from studio.config import METHODS, DataConfig, RunConfig
from studio.data import DataError, load_data
from studio.data.sources import check_source
from studio.models import loading
from studio.models.device import detect, resolve_precision
from studio.models.meta import config_cached, module_names
from studio.runs.directory import similar_step_time
from studio.schema import ConfigError, Problem
from studio.train import checks
from studio.train.estimate import estimate, fit, time_text
from studio.train.method_data import suggest_method
from studio.train.placement import world
from studio.train.plan import (
    as_kto,
    effective_batch,
    load_validation,
    planned_steps,
    preflight,
    split_rows,
    steps_per_epoch,
    world_size,
)

log = logging.getLogger(__name__)


@dataclass
class Review:
    problems: list[Problem] = field(default_factory=list)
    precision: str = ""
    device: str = ""
    rows: int | None = None
    train_rows: int | None = None
    steps: int | None = None
    batch_text: str = ""
    estimate: object = None  # studio.train.estimate.Estimate
    fit: object = None  # studio.train.estimate.Fit
    time_text: str = ""
    longest: int | None = None  # tokens of the longest training example, as the plan renders it
    labelled: int | None = None  # its most labelled tokens of one sequence (SFT, DPO)
    layers: list[str] = field(default_factory=list)  # the model's Linear layer names (targets)
    data_kind: str = ""  # what the dataset was read as (studio.data.formats), once it was read
    data_format: str = ""
    suggestion: object = None  # studio.train.method_data.Suggestion: a method the data suits better

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


@functools.lru_cache(maxsize=8)
def _data(source: str, fmt: str, columns: str, system: str, max_rows: int | None, stamp: float):

    return load_data(source, fmt, columns, system, max_rows)


@functools.lru_cache(maxsize=8)
def _validation(source: str, dataset: str, fmt: str, columns: str, system: str, kind: str, stamp: float):

    d = DataConfig(dataset=dataset, format=fmt, columns=columns, system_prompt=system, val_dataset=source)
    return load_validation(d, kind)


def _mtime(source: str) -> float:
    try:
        return os.path.getmtime(source)
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=4)
def _tokenizer(model: str, template: str):
    """The tokenizer the run will train with (plan_run loads it the same way)."""
    return loading.load_tokenizer(model, template, fallback=False)


def read_data(d: DataConfig, user: str | None = None):
    """The dataset of ``d`` as the review reads it (cached until the file changes); DataError
    when ``user`` may not read it, ValueError when it cannot be read."""
    check_source(d.dataset, "dataset", user)
    return _data(d.dataset, d.format, d.columns, d.system_prompt, d.max_rows, _mtime(d.dataset))


def _data_problems(config: RunConfig, r: Review) -> None:
    d = config.data
    try:
        data = _data(d.dataset, d.format, d.columns, d.system_prompt, d.max_rows, _mtime(d.dataset))
    except ValueError as exc:
        r.problems.append(Problem("dataset", str(exc)))
        return
    r.rows, r.data_kind, r.data_format = len(data.rows), data.kind, data.format
    r.suggestion = suggest_method(config.train.method, data.kind, data.format, data.columns)
    train = _split(config, data, r)
    try:
        tokenizer = _tokenizer(config.model.model, config.model.chat_template)
    except ValueError as exc:
        r.problems.append(Problem("model", str(exc)))
        return
    template = checks.template_problems(tokenizer, config, data.kind, data.format)
    r.problems += template
    if not template and train:
        r.longest, r.labelled = (n or None for n in _longest(config, tokenizer, data, tuple(train)))


def _longest(config: RunConfig, tokenizer, data, train: tuple[int, ...]) -> tuple[int, int]:
    """The longest training example rendered as the plan renders it (so the estimate is the
    job's own); cached on what the rendering reads, so a keystroke elsewhere costs nothing."""
    t, d = config.train, config.data
    key = (d.dataset, _mtime(d.dataset), d.format, d.columns, d.system_prompt, d.max_rows, config.model.model)
    key += (t.method, t.max_length, t.assistant_only_loss, config.grpo.answer_column, config.grpo.reward_exact, train)
    if key not in _LONGEST:
        _LONGEST.clear()  # one form, one entry
        if METHODS[t.method].rows == "labelled":  # KTO reads chat rows with a label as format kto
            data = as_kto(data, d)
        pairs = [(data.rows[i], data.row_numbers[i]) for i in train]
        rendered = preflight(tokenizer, config, pairs)
        _LONGEST[key] = (rendered.longest, rendered.longest_labelled)
    return _LONGEST[key]


_LONGEST: dict[tuple, tuple[int, int]] = {}


def _split(config: RunConfig, data, r: Review) -> list[int]:
    """The training rows (indices) as the training will count them: the same split (studio.train.plan)."""

    d, val = config.data, None
    if d.val_dataset.strip():
        try:
            source = d.val_dataset.strip()
            val = _validation(source, d.dataset, d.format, d.columns, d.system_prompt, data.kind, _mtime(source))
        except ConfigError as exc:
            r.problems += exc.problems
    train, _ = split_rows(d, config.train.seed, list(range(len(data.rows))), val)
    r.train_rows = len(train)
    return train


def _model_problems(config: RunConfig, r: Review) -> bool:

    try:
        names, linear = module_names(config.model.model.strip())
    except ValueError as exc:
        r.problems.append(Problem("model", str(exc)))
        return False
    r.problems += checks.family_problems(config_cached(config.model.model.strip())[0].model_type, config.train.method)
    r.layers = checks.linear_names(set(names), set(linear))
    if config.adapter.adapter != "full" and config.adapter.target_modules.strip():
        r.problems += checks.target_problems(config.adapter.target_modules, set(names), set(linear))
    return True


def _batch(config: RunConfig, r: Review, world: int) -> None:

    t = config.train
    effective = effective_batch(config, world)
    text = f"Effective batch {t.batch_size} x {t.grad_accum}" + (f" x {world} processes" if world > 1 else "")
    text += f" = **{effective}**"
    if r.train_rows is not None:
        r.steps = planned_steps(r.train_rows, config, world)
        per_epoch = steps_per_epoch(r.train_rows, config, world)
        text += f" · {r.train_rows} training rows -> {per_epoch} steps per epoch"
        if t.max_steps > 0:
            text += f" · max_steps: **{r.steps} steps**"
        else:
            text += f" x {t.epochs:g} epochs = **{r.steps} steps**"
    r.batch_text = text


def _estimate(config: RunConfig, r: Review, device, runs_root: Path | None) -> None:

    try:
        r.estimate = estimate(config, device, length=r.longest, labelled=r.labelled)
        r.fit = fit(r.estimate, config, device)
    except (ValueError, RuntimeError, KeyError) as exc:
        r.problems.append(Problem("model", f"no estimate: {exc}", "warning"))
    timed = similar_step_time(config, runs_root)
    if r.steps is not None:
        r.time_text = time_text(r.steps, *(timed or (None, "")))


def path_problems(config: RunConfig, user: str | None) -> list[Problem]:
    """The dataset, validation file and model folder ``user`` may not read, each at its field, in
    the words of studio.data.access and before anything is read (None: the operator reads all)."""
    problems = []
    for name, source in (("dataset", config.data.dataset), ("val_dataset", config.data.val_dataset)):
        try:
            check_source(source, name, user)
        except DataError as exc:
            problems.append(Problem(name, str(exc)))
    try:
        loading.local_folder(config.model.model.strip(), user)
    except ValueError as exc:
        problems.append(Problem("model", str(exc)))
    return problems


def check_paths(config: RunConfig, user: str | None) -> None:
    """ConfigError listing ``path_problems``, if any (Start: nothing is queued)."""
    problems = path_problems(config, user)
    if problems:
        raise ConfigError(problems)


def review(config: RunConfig, device=None, runs_root: Path | None = None, user: str | None = None) -> Review:
    """Problems, batch arithmetic, estimate and verdict for a config, without loading weights;
    the files it names are read only when ``user`` may read them (``path_problems``)."""

    device = device or detect()
    r = Review(device=device.describe())
    r.problems += checks.validate(config, device.kind)
    try:
        r.precision = resolve_precision(config.model.precision, device)
    except ValueError:
        r.precision = "fp32"
    refused = path_problems(config, user)
    r.problems += refused
    if not refused:
        _data_problems(config, r)
    wrong = {p.field for p in r.errors}
    if not wrong & {"batch_size", "grad_accum", "epochs", "max_steps"}:  # the arithmetic needs sane numbers
        _batch(config, r, world(config.launch) or world_size(device))
    bounds_ok = not wrong & {"lora_r", "batch_size", "max_length"}
    if not refused and _model_problems(config, r) and bounds_ok:
        _estimate(config, r, device, runs_root)
    return r
