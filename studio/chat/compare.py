"""Batch compare: many prompts, base and adapter answers side by side, differences marked.

    rows = compare_prompts(engine, ["Who are you?", "Name a prime."], "runs/<id>/adapter", Sampling(greedy=True))
    rows[0]["base_diff"]   # [(word run, "del" | None), ...]: the base's words the adapter did not say
    rows[0]["adapter_diff"]  # [(word run, "ins" | None), ...]: the adapter's words the base did not say

Both columns answer each prompt in one pass, token by token with the same seed, exactly as
in the Chat tab.
"""

from __future__ import annotations

import csv
import difflib
import re
from pathlib import Path

from studio.chat.engine import ChatEngine
from studio.chat.sampling import Sampling

MAX_PROMPTS = 50


def parse_prompts(text: str) -> list[str]:
    """One prompt per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def word_diff(a: str, b: str) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]:
    """``a`` and ``b`` cut into runs of words: in a, words missing from b are 'del'; in b, words
    missing from a are 'ins'. Whitespace stays attached, so joining the runs gives the text back."""
    wa, wb = re.findall(r"\S+\s*|\s+", a), re.findall(r"\S+\s*|\s+", b)
    matcher = difflib.SequenceMatcher(a=[w.strip() for w in wa], b=[w.strip() for w in wb], autojunk=False)
    left: list[tuple[str, str | None]] = []
    right: list[tuple[str, str | None]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(("".join(wa[i1:i2]), None))
            right.append(("".join(wb[j1:j2]), None))
            continue
        if i2 > i1:
            left.append(("".join(wa[i1:i2]), "del"))
        if j2 > j1:
            right.append(("".join(wb[j1:j2]), "ins"))
    return left, right


def similarity(a: str, b: str) -> float:
    """Share of words the two answers have in common, in order (difflib ratio over words)."""
    return difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False).ratio()


def compare_prompts(
    engine: ChatEngine,
    prompts: list[str],
    adapter: str,
    sampling: Sampling | None = None,
    system: str = "",
) -> list[dict]:
    """Each prompt answered by the base and the adapter, with the word differences."""
    if not prompts:
        raise ValueError("prompts: give at least one prompt, one per line")
    if len(prompts) > MAX_PROMPTS:
        raise ValueError(f"prompts: {len(prompts)} given; compare at most {MAX_PROMPTS} at a time")
    sampling = sampling or Sampling(greedy=True)
    rows = []
    for prompt in prompts:
        messages = ([{"role": "system", "content": system}] if system.strip() else []) + [
            {"role": "user", "content": prompt}
        ]
        texts = engine.replies(messages, [None, adapter], sampling)
        base_diff, adapter_diff = word_diff(texts[0], texts[1])
        rows.append(
            {
                "prompt": prompt,
                "base": texts[0],
                "adapter": texts[1],
                "same": texts[0] == texts[1],
                "similarity": round(similarity(texts[0], texts[1]), 3),
                "base_diff": base_diff,
                "adapter_diff": adapter_diff,
            }
        )
    return rows


def save_csv(rows: list[dict], path: str | Path) -> Path:
    """The comparison as a CSV (prompt, base, adapter, identical, word_overlap), for download."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", "base", "adapter", "identical", "word_overlap"])
        for r in rows:
            writer.writerow([r["prompt"], r["base"], r["adapter"], r["same"], r["similarity"]])
    return path
