"""The rows a run trains on, checked before any model is loaded: each row rendered under the chat
template (SFT) or counted as a preference pair, shaped for TRL, and the rows that cannot train
refused with their row numbers (KTO's and GRPO's rows: studio.train.preflight_rl).

    out = preflight_sft(tokenizer, rows, numbers, max_length=512, assistant_only=True)
    out.examples, out.refused, out.problems   # what TRL receives; row -> reason; the summary
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.data.render import chat_text, render_row
from studio.schema import Problem


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
    return conclude(out, "dataset")


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
    return conclude(out, "dataset")


def conclude(out: Preflight, field_name: str) -> Preflight:
    if out.refused:
        level = "error" if not out.examples else "warning"
        out.problems.append(Problem(field_name, f"{len(out.refused)} rows refused: {out.refused_text()}", level))
    if not out.examples:
        out.problems.append(Problem(field_name, "no row is left to train on"))
    return out
