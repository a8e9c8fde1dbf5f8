"""GRPO's sampled answers with their rewards: ``completions.jsonl`` in the run directory.

One line per sampled answer: {"step", "mode" (train or eval), "prompt", "completion",
"rewards": {function: score}, "total": the weighted sum GRPO ranks the group by}. The Train tab
shows the latest step's answers as a table; on resume the lines past the checkpoint go, as the
curves' do.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.runs.metrics import read_metrics

FILE = "completions.jsonl"
SHOWN = 16  # rows of the table: a step's groups, best first


def append(run_dir: str | Path, rows: list[dict]) -> None:
    with open(Path(run_dir) / FILE, "a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))


def read(run_dir: str | Path) -> list[dict]:
    return read_metrics(Path(run_dir) / FILE)


def table(rows: list[dict], limit: int = SHOWN) -> tuple[list[str], list[list]]:
    """(headers, rows): the latest training step's answers, highest total reward first, with each
    function's score; empty when the run samples nothing (every method but GRPO)."""
    train = [r for r in rows if r.get("mode", "train") == "train"]
    if not train:
        return [], []
    step = max(r["step"] for r in train)
    latest = sorted((r for r in train if r["step"] == step), key=lambda r: -r["total"])[:limit]
    names = list(dict.fromkeys(n for r in latest for n in r["rewards"]))
    headers = ["step", "prompt", "answer", "total", *names]
    out = [
        [step, r["prompt"], r["completion"], round(r["total"], 3), *(round(r["rewards"].get(n, 0.0), 3) for n in names)]
        for r in latest
    ]
    return headers, out
