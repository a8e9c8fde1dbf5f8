"""Synthetic examples from a teacher: new instructions in the style of a few seed rows, answered by
the teacher, then cleaned like any dataset before anyone trains on them.

    python -m studio data generate --seed assets/sample_sft.jsonl --teacher smollm2 -n 20 --out gen.jsonl
    python -m studio data generate --seed seeds.jsonl --teacher http://127.0.0.1:8000/v1 -n 100 --out gen.jsonl
    result = generate(seed_rows, open_backend("smollm2"), GenerateOptions(n=20))  # -> GenerateResult

Self-instruct: each new row shows the teacher ``seeds_per_prompt`` seed instructions and asks for
one more on another topic, then asks the teacher to answer it. Rows come out in the alpaca format
with ``teacher`` (the backend's name; an endpoint's key is never in it) and ``seed_rows`` (the seed
rows shown). Then the existing clean path (studio.data.clean) runs over seeds and new rows
together, so exact, near and (if asked) semantic duplicates of the seeds and of each other go,
with empty answers and the length bounds; only new rows are kept. A row the teacher's reply does
not give (an empty or over-long instruction, a reply that repeats a seed) is reported, never kept.

A teacher that fails or times out, or a Stop, ends the loop: what was generated so far is kept
and cleaned, and the error is in the result.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from studio.data import canonicalize
from studio.data.clean import CleanOptions, CleanResult, clean
from studio.generate.options import GenerateOptions

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, message)
MAX_INSTRUCTION_CHARS = 600
_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*•]|(?:new\s+)?(?:instruction|task)\s*:)\s*", re.IGNORECASE)

ASK_INSTRUCTION = (
    "You write new training examples for an assistant.\n"
    "Here are {k} example instructions:\n{examples}\n"
    "Write ONE new instruction on a different topic, in the same style and of similar length. "
    "Reply with the instruction only: no numbering, no answer."
)


@dataclass
class GenerateResult:
    rows: list[dict]  # kept new rows, alpaca with teacher and seed_rows
    asked: int = 0
    unparsed: list[dict] = field(default_factory=list)  # {"index", "reason", "reply"}
    clean: CleanResult | None = None
    error: str = ""  # the teacher's failure that ended the loop early
    stopped: bool = False
    seconds: float = 0.0

    def report(self) -> dict:
        removed = self.clean.removed if self.clean else {}
        return {
            "asked": self.asked,
            "kept": len(self.rows),
            "unparsed": len(self.unparsed),
            "removed": {k: v for k, v in removed.items() if v},
            "error": self.error,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 1),
            "unparsed_examples": self.unparsed[:5],
        }


def seed_instructions(rows: list[dict]) -> list[str]:
    """The first user turn of each canonical chat row (the seeds' instructions)."""
    out = []
    for row in rows:
        first = next((m["content"] for m in row.get("messages", []) if m["role"] == "user"), "")
        if first.strip():
            out.append(first.strip())
    if not out:
        raise ValueError("the seed rows hold no instruction (a user turn); give chat or alpaca rows")
    return out


def parse_instruction(reply: str, seeds: list[str]) -> tuple[str, str]:
    """(instruction, "") from a teacher's reply, or ("", the reason it is not one)."""
    text = reply.strip().strip('"“”').strip()
    text = _NUMBERING.sub("", text.split("\n\n")[0]).strip().strip('"“”').strip()
    if not text:
        return "", "empty instruction"
    if len(text) > MAX_INSTRUCTION_CHARS:
        return "", f"instruction over {MAX_INSTRUCTION_CHARS} characters"
    if text.casefold() in {s.casefold() for s in seeds}:
        return "", "repeats a seed instruction"
    return text, ""


def generate(
    seed_rows: list[dict],
    teacher,
    options: GenerateOptions | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> GenerateResult:
    """New rows from ``teacher`` (a studio.chat.backends backend) in the style of ``seed_rows``
    (canonical chat rows), cleaned against the seeds and each other."""
    o = options or GenerateOptions()
    seeds = seed_instructions(seed_rows)
    rng = random.Random(o.random_seed)
    result, started, raw = GenerateResult([]), time.monotonic(), []
    for i in range(o.n):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        shown = rng.sample(range(len(seeds)), min(o.seeds_per_prompt, len(seeds)))
        examples = "\n".join(f"{k}. {seeds[j]}" for k, j in enumerate(shown, 1))
        try:
            reply = teacher.complete(
                [{"role": "user", "content": ASK_INSTRUCTION.format(k=len(shown), examples=examples)}],
                max_new_tokens=128,
                temperature=o.temperature,
                seed=o.random_seed + i,
            )
            result.asked += 1
            instruction, why = parse_instruction(reply, seeds)
            if why:
                result.unparsed.append({"index": i, "reason": why, "reply": reply[:200]})
                continue
            answer = teacher.complete(
                [{"role": "user", "content": instruction}],
                max_new_tokens=o.max_new_tokens,
                temperature=min(o.temperature, 0.7),
                seed=o.random_seed + i,
            )
        except ValueError as exc:  # a backend's failure, in its words: keep what was made
            result.error = f"the teacher failed after {len(raw)} rows: {exc}"
            log.warning(result.error)
            break
        raw.append(
            {
                "instruction": instruction,
                "input": "",
                "output": answer.strip(),
                "teacher": teacher.name,
                "seed_rows": [j + 1 for j in shown],
            }  # fmt: skip
        )
        if progress:
            progress(i + 1, o.n, f"{len(raw)} rows from {result.asked} asks")
    result.rows, result.clean = _cleaned(seed_rows, raw, o)
    result.seconds = time.monotonic() - started
    return result


def _cleaned(seed_rows: list[dict], raw: list[dict], o: GenerateOptions) -> tuple[list[dict], CleanResult | None]:
    """The new rows that survive cleaning beside the seeds (seed rows are compared, never kept)."""
    if not raw:
        return [], None
    seeds_raw = [{"messages": row["messages"]} for row in seed_rows]
    new_raw = [{"messages": _messages(row)} for row in raw]
    data = canonicalize(seeds_raw + new_raw, "messages", source="generated rows")
    result = clean(data, CleanOptions(dedup=o.dedup, special_tokens="drop", drop_empty=True))
    first_new = len(seeds_raw) + 1
    kept = [raw[n - first_new] for n in result.train_numbers if n >= first_new]
    return kept, result


def _messages(row: dict) -> list[dict]:
    return [{"role": "user", "content": row["instruction"]}, {"role": "assistant", "content": row["output"]}]
