"""Evaluation results on disk and on screen: the run's eval.json, its generations as CSV, a
table, a bar chart, and one history row per evaluated run (for the run history)."""

from __future__ import annotations

import csv
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from studio.runs.directory import Run

RESULTS = "eval.json"
GENERATIONS = "eval_generations.csv"

# (key, label, which way is better)
METRICS = [
    ("perplexity", "Perplexity", "lower"),
    ("rouge_l", "ROUGE-L F1", "higher"),
    ("bleu", "BLEU", "higher"),
    ("exact_match", "Exact match", "higher"),
    ("preference_accuracy", "Preference accuracy", "higher"),
    ("logp_margin", "Log-prob margin (chosen - rejected)", "higher"),
    ("reward_margin", "DPO reward margin vs base", "higher"),
    ("reward_accuracy", "DPO reward accuracy", "higher"),
    ("reward", "GRPO mean reward, weighted total", "higher"),
    ("reward/exact_answer", "Exact-answer reward", "higher"),
    ("reward/format", "Format reward", "higher"),
    ("reward/length", "Length reward", "higher"),
    ("reward/no_repeat", "No-repetition reward", "higher"),
    ("reward/reward_model", "Reward-model score", "higher"),
    ("rm_accuracy", "Reward model pairwise accuracy", "higher"),
    ("rm_margin", "Reward model margin (chosen - rejected)", "higher"),
    ("desirable_logp", "KTO: token log-prob of good answers", "higher"),
    ("undesirable_logp", "KTO: token log-prob of bad answers", "lower"),
    ("kto_gap", "KTO: good - bad log-prob gap", "higher"),
]


def save_results(run: Run, result: dict, generations: list[dict]) -> None:
    """eval.json (the numbers) and eval_generations.csv (prompt, reference, base, adapter)."""
    run.write_json(RESULTS, {k: v for k, v in result.items() if k != "generations"})
    path = run.path / GENERATIONS
    if generations:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["prompt", "reference", "base", "adapter"])
            writer.writeheader()
            writer.writerows(generations)
    elif path.exists():
        path.unlink()


def load_results(run: Run) -> dict | None:
    """The run's saved evaluation, with its generations, or None."""
    result = run.read_json(RESULTS)
    if not result:
        return None
    path = run.path / GENERATIONS
    result["generations"] = []
    if path.exists():
        with open(path, newline="", encoding="utf-8") as fh:
            result["generations"] = list(csv.DictReader(fh))
    return result


def result_files(run: Run) -> list[Path]:
    """The saved evaluation's files, to download: eval.json, and the generations CSV when there is one."""
    return [path for path in (run.path / RESULTS, run.path / GENERATIONS) if path.exists()]


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def results_table(result: dict) -> dict:
    """Headers and rows: metric, base, adapter, change, and which model is better."""
    rows = []
    for key, label, better in METRICS:
        base, adapter = result.get("base", {}).get(key), result.get("adapter", {}).get(key)
        if base is None and adapter is None:
            continue
        change = adapter - base if base is not None and adapter is not None else None
        winner = "-"
        if change:
            winner = "adapter" if (change < 0) == (better == "lower") else "base"
        rows.append([f"{label} ({better} is better)", _fmt(base), _fmt(adapter), _fmt(change), winner])
    return {"headers": ["metric", "base", "adapter", "change", "better"], "data": rows}


def results_figure(result: dict) -> go.Figure:
    """One small panel per metric, base and adapter bars side by side."""
    present = [(k, label) for k, label, _ in METRICS if k in result.get("adapter", {}) or k in result.get("base", {})]
    # A metric that is 0 (or missing) for both models draws an empty panel: named in the title instead.
    shown = [(k, label) for k, label in present if any(result.get(m, {}).get(k) for m in ("base", "adapter"))]
    zero = [label for k, label in present if (k, label) not in shown]
    cols = min(4, max(1, len(shown)))
    rows = (len(shown) + cols - 1) // cols or 1
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[label for _, label in shown] or ["no results"])
    for i, (key, _) in enumerate(shown):
        values = [result.get("base", {}).get(key), result.get("adapter", {}).get(key)]
        fig.add_trace(
            go.Bar(
                x=["base", "adapter"],
                y=values,
                marker_color=["#9ca3af", "#2563eb"],
                text=[_fmt(v) for v in values],
                textposition="auto",
                showlegend=False,
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    title = f"{result.get('run', '')}: {result.get('split', '')}, {result.get('rows', 0)} rows"
    title += f" ({', '.join(zero)}: 0 for both)" if zero else ""
    fig.update_layout(title=title, height=260 * rows + 60, margin=dict(l=30, r=10, t=80, b=30))
    fig.update_yaxes(rangemode="tozero")
    fig.update_annotations(font_size=11)
    return fig


def history_row(run: Run) -> dict | None:
    """A run-history row with the headline numbers of the run's evaluation (None: not evaluated)."""
    result = run.read_json(RESULTS)
    if not result:
        return None
    base, adapter = result.get("base", {}), result.get("adapter", {})
    row = {"run": run.id, "method": result.get("method"), "split": result.get("split"), "rows": result.get("rows")}
    for key, _, _ in METRICS:
        if key in adapter:
            row[f"{key} base"] = round(base[key], 4) if key in base else None
            row[f"{key} adapter"] = round(adapter[key], 4)
    return row
