"""Row checks for KTO and GRPO: what each row becomes for TRL, and the rows refused (with numbers).

    pre = preflight_kto(tokenizer, rows, numbers, max_length)     # {"prompt", "completion", "label"}
    pre = preflight_prompts(tokenizer, rows, numbers, max_length, answer_column="answer")

Reward models and ORPO read preference pairs exactly as DPO does (``preflight.preflight_dpo``).
"""

from __future__ import annotations

from studio.data.render import chat_text
from studio.schema import Problem
from studio.train.preflight import Preflight, conclude


def _prompt_tokens(tokenizer, messages: list[dict]) -> int:

    text = chat_text(tokenizer, messages, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def unpaired(row: dict) -> list[tuple[list, list, bool]]:
    """(prompt, completion, label) examples of a row: a labelled chat row, or both sides of a pair."""
    if "chosen" in row:
        return [(row["prompt"], row["chosen"], True), (row["prompt"], row["rejected"], False)]
    if "label" in row:
        return [(row["messages"][:-1], row["messages"][-1:], bool(row["label"]))]
    return []


def preflight_kto(tokenizer, rows: list[dict], numbers: list[int], max_length: int) -> Preflight:
    out = Preflight()
    for row, number in zip(rows, numbers, strict=True):
        examples = unpaired(row)
        if not examples:
            out.refused[number] = "has no label (true for a good answer, false for a bad one)"
            continue
        n_prompt = _prompt_tokens(tokenizer, examples[0][0])
        if n_prompt >= max_length:
            out.refused[number] = f"its prompt alone takes {n_prompt} tokens, over max_length {max_length}"
            continue
        for prompt, completion, label in examples:
            n_answer = len(tokenizer(completion[0]["content"], add_special_tokens=False)["input_ids"])
            out.examples.append({"prompt": prompt, "completion": completion, "label": label})
            out.row_numbers.append(number)
            out.trained_tokens += min(n_answer, max_length - n_prompt)
            out.total_tokens += min(max_length, n_prompt + n_answer)
            out.longest = max(out.longest, min(max_length, n_prompt + n_answer))
            out.longest_labelled = max(out.longest_labelled, min(n_answer, max_length - n_prompt))
    out = conclude(out, "dataset")
    labels = {e["label"] for e in out.examples}
    if len(labels) == 1:
        kind = "good" if labels.pop() else "bad"
        out.problems.append(
            Problem("dataset", f"every example is labelled {kind}: KTO learns from both good and bad ones", "warning")
        )
    return out


def preflight_prompts(
    tokenizer, rows: list[dict], numbers: list[int], max_length: int, answer_column: str = ""
) -> Preflight:
    """Prompt-only rows for GRPO; with ``answer_column`` every row must hold a reference answer."""
    out = Preflight()
    for row, number in zip(rows, numbers, strict=True):
        if "messages" not in row or row["messages"][-1]["role"] != "user":
            out.refused[number] = "is not a prompt ending on the user's turn"
            continue
        if answer_column and not str(row.get(answer_column, "")).strip():
            out.refused[number] = f"has no reference answer in column {answer_column!r}"
            continue
        n_prompt = _prompt_tokens(tokenizer, row["messages"])
        if n_prompt >= max_length:
            out.refused[number] = f"its prompt alone takes {n_prompt} tokens, over max_length {max_length}"
            continue
        extra = {k: v for k, v in row.items() if k != "messages"}
        out.examples.append({"prompt": row["messages"], **extra})
        out.row_numbers.append(number)
        out.total_tokens += n_prompt
        out.longest = max(out.longest, n_prompt)
    return conclude(out, "dataset")


def answer_column_problem(columns: list[str], answer_column: str) -> Problem | None:
    """The exact-answer reward's column is not in the dataset: the problem at answer_column."""
    if answer_column in columns:
        return None
    return Problem(
        "answer_column",
        f"column {answer_column!r} is not in the dataset (it has {', '.join(columns)}); name the reference column "
        "or set reward_exact to 0",
    )
