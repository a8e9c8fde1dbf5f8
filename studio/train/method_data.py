"""Which data each training method reads, and which method a dataset suits.

    method_data_problem("dpo", "chat", "alpaca")   # Problem at "method", naming the shipped example and preset
    suggest_method("sft", "preference", "preference", ["chosen", "conversations", "rejected"])
    # Suggestion(method="dpo", reason="these rows look like preference pairs ...")

The refusal (a method that cannot train on the data) and the suggestion (data that another method
uses better) both end in the same fix: the examples and presets of studio.train.presets.METHOD_PRESETS.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.config import METHODS
from studio.schema import Problem
from studio.train.presets import starter_text


def method_data_problem(method: str, data_kind: str, data_format: str = "") -> Problem | None:
    """The method cannot train on this kind of data (the method table's ``formats``): the problem at
    the method field (naming the shipped example and preset that fit the method), else None."""
    row = METHODS.get(method, METHODS["sft"])
    if row.takes(data_kind, data_format):
        return None
    starter = starter_text(method)
    fix = f"; use {starter}" if starter else ""
    return Problem("method", f"{row.title} needs {row.needs}; this dataset is {data_format or data_kind}{fix}")


@dataclass(frozen=True)
class Suggestion:
    """A method the loaded data suits better than the chosen one, and why (for a one-click switch)."""

    method: str
    reason: str


def _kto_rows(data_kind: str, data_format: str, columns: list[str]) -> bool:
    return data_format == "kto" or (data_kind == "chat" and "label" in columns)


def suggest_method(method: str, data_kind: str, data_format: str, columns: list[str]) -> Suggestion | None:
    """The method these rows were made for, when it is not ``method``: preference pairs -> DPO
    (only from SFT: ORPO, KTO and reward models read pairs too), rows labelled good or bad -> KTO,
    prompts with reference answers -> GRPO. None when the chosen method already suits them."""
    if _kto_rows(data_kind, data_format, columns) and method != "kto":
        return Suggestion("kto", "these rows are answers labelled good or bad (a label column): KTO learns from them")
    if data_kind == "preference" and method == "sft":
        return Suggestion(
            "dpo",
            "these rows look like preference pairs (a chosen and a rejected answer): DPO learns from both, "
            "SFT imitates only the chosen one",
        )
    if data_kind == "prompt" and method != "grpo":
        answers = " with reference answers" if len(columns) > 1 else ""
        return Suggestion("grpo", f"these rows are prompts{answers}: GRPO samples answers and rewards the right ones")
    return None
