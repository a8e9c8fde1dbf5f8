"""The Train form's guidance: what a preset does to the dataset already in the form, and the
one-click fixes the form offers when a method and its data do not match.

    config, note = fill_preset("Quick CPU demo: LoRA SFT", "assets/arithmetic_grpo.jsonl")
    # -> the SFT preset with its own sample (another preset's file is never kept); note ""
    config, note = fill_preset("Quick CPU demo: LoRA SFT", "data/mine.csv", "alpaca")
    # -> the preset with data/mine.csv kept (it fits SFT); note "Kept your dataset data/mine.csv; ..."
    with_example(config)   # the form with the shipped example of its method (studio.train.presets.METHOD_PRESETS)

The UI reaches the presets through this module (``studio.services.guide``): the table, the presets, the fills.

The fit rule is studio.train.method_data.method_data_problem, the one the review and Start apply.
"""

from __future__ import annotations

import copy
import logging

from studio.config import DataConfig, RunConfig
from studio.train.method_data import method_data_problem
from studio.train.presets import METHOD_PRESETS, PRESETS, method_preset, preset, shipped_datasets, shipped_example
from studio.train.review import read_data

__all__ = ["METHOD_PRESETS", "PRESETS", "fill_preset", "method_preset", "shipped_example", "with_example"]

log = logging.getLogger(__name__)


def fill_preset(
    name: str, dataset: str = "", fmt: str = "auto", columns: str = "", system: str = "", user: str | None = None
) -> tuple[RunConfig, str]:
    """The preset ``name``, with the form's dataset kept when it is the user's own and fits the
    preset's method; and a note saying what happened to that dataset ("" when nothing to say).

    A dataset another preset ships is replaced without a word (it came with that preset); one that
    does not fit the method is replaced, naming why; one that cannot be read yet is kept (the
    review names what is wrong with it)."""
    config = preset(name)
    own = config.data.dataset
    dataset = (dataset or "").strip()
    if not dataset or dataset == own or dataset in shipped_datasets():
        return config, ""
    mine = DataConfig(dataset=dataset, format=fmt or "auto", columns=columns or "", system_prompt=system or "")
    try:
        data = read_data(mine, user)
    except ValueError as exc:
        log.info("preset %s: keeping the unread dataset %s (%s)", name, dataset, exc)
        return _kept(config, mine), f"Kept your dataset {dataset} (not readable yet: the review says why); {_own(own)}"
    problem = method_data_problem(config.train.method, data.kind, data.format)
    if problem is not None:
        why = problem.message.split("; use ")[0]
        return config, f"Replaced your dataset {dataset}: {why}. The preset trains on {own}."
    return _kept(config, mine), f"Kept your dataset {dataset}; {_own(own)}"


def _own(dataset: str) -> str:
    return f"the preset's own is {dataset} (type it into Dataset to train on it)."


def _kept(config: RunConfig, mine: DataConfig) -> RunConfig:
    """The preset with the user's data: its validation file belongs to its own data, so it goes."""
    d = config.data
    d.dataset, d.format, d.columns, d.system_prompt = mine.dataset, mine.format, mine.columns, mine.system_prompt
    d.val_dataset = ""
    return config


def with_example(config: RunConfig) -> RunConfig:
    """``config`` training on the shipped example of its method: the data section of the method's preset."""
    out = copy.deepcopy(config)
    out.data = method_preset(config.train.method).data
    return out
