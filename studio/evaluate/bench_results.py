"""Benchmark results on disk: the harness's output read into one shape, and the run's benchmarks.json.

benchmarks.json holds one entry per task, the latest run of that task::

    {"harness": "lm-eval 0.4.13", "base_model": "...", "updated": 1765000000.0,
     "tasks": {"studio_facts": {"n": 20, "limit": 20, "adapter_dir": "...", "created": ...,
                                "metrics": {"acc": {"higher_is_better": true,
                                                    "base": 0.45, "base_stderr": 0.11,
                                                    "adapter": 0.55, "adapter_stderr": 0.11,
                                                    "difference": 0.10}}}}}

A later benchmark of other tasks adds its entries; one of the same task replaces it, except that a
stopped run (base scored, adapter not) never replaces a complete entry.
"""

from __future__ import annotations

import math
import time
from importlib.metadata import version

from studio.runs.directory import Run

RESULTS = "benchmarks.json"


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):  # the harness writes "N/A" for an error it has no formula for
        return None
    return None if math.isnan(number) else number


def task_scores(out: dict, names: list[str]) -> dict:
    """{task: {"n": examples, "metrics": {metric: {"value", "stderr", "higher_is_better"}}}} from
    ``simple_evaluate``'s result; a group (mmlu) gives its aggregate, its n the sum of its subtasks'."""
    scores = {}
    for name in names:
        entry = (out.get("groups") or {}).get(name) or out["results"].get(name) or {}
        better = out.get("higher_is_better", {}).get(name, {})
        members = out.get("group_subtasks", {}).get(name) or [name]
        n = sum(out.get("n-samples", {}).get(m, {}).get("effective", 0) for m in members)
        metrics = {}
        for key, value in entry.items():
            if "," not in key or "_stderr," in key:
                continue
            metric, kept = key.split(",", 1)
            label = metric if kept == "none" else f"{metric} ({kept})"
            metrics[label] = {
                "value": _number(value),
                "stderr": _number(entry.get(f"{metric}_stderr,{kept}")),
                "higher_is_better": bool(better.get(metric, True)),
            }
        scores[name] = {"n": n, "metrics": metrics}
    return scores


def combine(scores: dict, name: str) -> dict:
    """One task's metrics, base and adapter side by side, with the difference (adapter - base)."""
    base = scores.get("base", {}).get(name, {}).get("metrics", {})
    adapter = scores.get("adapter", {}).get(name, {}).get("metrics", {})
    out = {}
    for metric in dict.fromkeys([*base, *adapter]):
        b, a = base.get(metric, {}), adapter.get(metric, {})
        values = (b.get("value"), a.get("value"))
        out[metric] = {
            "higher_is_better": (b or a).get("higher_is_better", True),
            "base": values[0],
            "base_stderr": b.get("stderr"),
            "adapter": values[1],
            "adapter_stderr": a.get("stderr"),
            "difference": values[1] - values[0] if None not in values else None,
        }
    return out


def merge_results(run: Run, scores: dict, names: list[str], source: str, options, base_model: str) -> dict:
    """This run's task entries; they are written into the run's benchmarks.json beside earlier ones."""
    saved = run.read_json(RESULTS) or {}
    tasks = saved.get("tasks", {})
    now = time.time()
    mine = {}
    for name in names:
        if name not in scores.get("base", {}):
            continue  # stopped before this task's base was scored: nothing to keep
        complete = name in scores.get("adapter", {})
        entry = {
            "n": scores["base"][name]["n"],
            "limit": options.limit,
            "chat_template": options.chat_template,
            "adapter_dir": source,
            "complete": complete,
            "created": now,
            "metrics": combine(scores, name),
        }
        mine[name] = entry
        if complete or not tasks.get(name, {}).get("complete"):
            tasks[name] = entry
    if mine:
        run.write_json(
            RESULTS,
            {"harness": f"lm-eval {version('lm_eval')}", "base_model": base_model, "updated": now} | {"tasks": tasks},
        )
    return mine


def load_benchmarks(run: Run) -> dict | None:
    """The run's saved benchmarks, or None."""
    return run.read_json(RESULTS) or None


def by_model(tasks: dict) -> dict:
    """{"base": {task: {metric: value, "<metric>_stderr": error}}, "adapter": {...}} (for --json)."""
    out = {"base": {}, "adapter": {}}
    for name, entry in tasks.items():
        for label in out:
            row = {}
            for metric, m in entry["metrics"].items():
                row[metric], row[f"{metric}_stderr"] = m[label], m[f"{label}_stderr"]
            out[label][name] = row
    return out
