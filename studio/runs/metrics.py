"""A run's JSON-lines files (metrics.jsonl, probes.jsonl, GRPO's samples): read, trimmed on resume, summarised.

    read_metrics(run.metrics_path)     # every record; a torn last line (a kill mid-write) skipped
    trim_steps(path, 40)               # on resume: drop what came after checkpoint-40
    best_metrics(records)              # last loss, best eval loss, DPO's best accuracy and margin
"""

from __future__ import annotations

import json
from pathlib import Path


def round_or_none(value, digits: int = 4):
    return round(value, digits) if isinstance(value, (int, float)) else None


def best_metrics(metrics: list[dict]) -> dict:
    """Last train loss, best eval loss and, for DPO, the best reward accuracy and margin."""

    def values(key):
        return [m[key] for m in metrics if isinstance(m.get(key), (int, float))]

    losses, evals = values("loss"), values("eval_loss")
    accuracy = values("eval_rewards/accuracies") or values("rewards/accuracies")
    margins = values("eval_rewards/margins") or values("rewards/margins")
    return {
        "last_loss": round_or_none(losses[-1]) if losses else None,
        "best_eval_loss": round_or_none(min(evals)) if evals else None,
        "best_reward_accuracy": round_or_none(max(accuracy)) if accuracy else None,
        "best_reward_margin": round_or_none(max(margins)) if margins else None,
    }


def read_metrics(path: Path) -> list[dict]:
    """Metrics lines; a torn last line (the process was killed mid-write) is skipped."""
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except OSError:
        pass
    return out


def read_probes(path: Path) -> list[dict]:
    """probes.jsonl records ({"step", "prompt", "answer"}; step 0 is the base)."""
    return read_metrics(path)


def trim_steps(path: Path, step: int) -> None:
    """On resume, drop the records of a run's JSON-lines file (curve points, probe answers, GRPO's
    samples) made after the checkpoint the run continues from; a missing file stays missing."""
    if Path(path).exists():
        kept = [r for r in read_metrics(path) if r.get("step", 0) <= step]
        Path(path).write_text("".join(json.dumps(r) + "\n" for r in kept))


def probe_table(probes: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): each pinned prompt with the base's answer and the latest one."""
    prompts = list(dict.fromkeys(p["prompt"] for p in probes))
    base = {p["prompt"]: p["answer"] for p in probes if p["step"] == 0}
    latest: dict[str, tuple[int, str]] = {}
    for p in probes:
        if p["step"] > 0 and p["step"] >= latest.get(p["prompt"], (-1, ""))[0]:
            latest[p["prompt"]] = (p["step"], p["answer"])
    step = max((s for s, _ in latest.values()), default=0)
    headers = ["prompt", "base", f"step {step}" if step else "current"]
    return headers, [[q, base.get(q, "").strip(), latest.get(q, (0, ""))[1].strip()] for q in prompts]
