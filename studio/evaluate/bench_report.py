"""Benchmark results on screen and on paper: the side-by-side table, the chart, the model card's
section and the one-line summary of the Runs tab, all read from a run's benchmarks.json."""

from __future__ import annotations

import plotly.graph_objects as go

HEADERS = ["task", "metric", "n", "base ± se", "adapter ± se", "change", "better"]


def _fmt(value, error=None) -> str:
    if value is None:
        return "-"
    text = f"{value:.4f}"
    return f"{text} ± {error:.4f}" if error is not None else text


def rows(tasks: dict) -> list[dict]:
    """One row per task and metric: values, errors, the difference and which model is better."""
    out = []
    for name, entry in tasks.items():
        for metric, m in entry.get("metrics", {}).items():
            diff, higher = m.get("difference"), m.get("higher_is_better", True)
            better = "-" if not diff else ("adapter" if (diff > 0) == higher else "base")
            out.append({"task": name, "metric": metric, "n": entry.get("n"), **m, "better": better})
    return out


def bench_table(tasks: dict | None) -> dict:
    """Headers and rows for a Dataframe: base ± se, adapter ± se and the difference per task and metric."""
    data = [
        [
            r["task"],
            f"{r['metric']} {'↑' if r['higher_is_better'] else '↓'}",  # which way is better
            r["n"],
            _fmt(r["base"], r["base_stderr"]),
            _fmt(r["adapter"], r["adapter_stderr"]),
            "-" if r["difference"] is None else f"{r['difference']:+.4f}",
            r["better"],
        ]
        for r in rows(tasks or {})
    ]
    return {"headers": HEADERS, "data": data}


def bench_figure(tasks: dict | None, title: str = "") -> go.Figure:
    """Grouped bars, base and adapter per task and metric, with the standard errors as error bars."""
    shown = rows(tasks or {})
    x = [f"{r['task']}<br>{r['metric']}" for r in shown]
    fig = go.Figure()
    for label, color in (("base", "#9ca3af"), ("adapter", "#2563eb")):
        fig.add_bar(
            name=label,
            x=x,
            y=[r[label] for r in shown],
            error_y={"type": "data", "array": [r[f"{label}_stderr"] or 0 for r in shown], "visible": True},
            marker_color=color,
            text=[_fmt(r[label]) for r in shown],
            textposition="outside",
            cliponaxis=False,
        )
    fig.update_layout(
        barmode="group",
        title=title or ("Benchmarks: base vs adapter" if shown else "No benchmark results yet"),
        height=380,
        margin={"l": 40, "r": 10, "t": 90, "b": 80},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    fig.update_yaxes(rangemode="tozero")
    return fig


def card_section(saved: dict | None) -> str:
    """The model card's Benchmarks section (markdown), or '' without results."""
    tasks = (saved or {}).get("tasks") or {}
    if not tasks:
        return ""
    lines = [
        "## Benchmarks",
        "",
        f"Scored with {saved.get('harness', 'lm-evaluation-harness')} on the base model and on this fine-tune; "
        "± is the standard error, n the examples per task.",
        "",
        "| task | metric | n | base | fine-tuned | difference |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows(tasks):
        arrow = "↑" if r["higher_is_better"] else "↓"
        diff = "-" if r["difference"] is None else f"{r['difference']:+.4f}"
        base, tuned = _fmt(r["base"], r["base_stderr"]), _fmt(r["adapter"], r["adapter_stderr"])
        lines.append(f"| {r['task']} | {r['metric']} {arrow} | {r['n']} | {base} | {tuned} | {diff} |")
    return "\n".join(lines) + "\n"


def summary(saved: dict | None) -> str:
    """One line for the Runs tab: each task's first metric, base -> adapter."""
    tasks = (saved or {}).get("tasks") or {}
    parts = []
    for name, entry in tasks.items():
        metric, m = next(iter(entry.get("metrics", {}).items()), (None, None))
        if m is not None:
            parts.append(f"{name} {metric} {_fmt(m['base'])} → {_fmt(m['adapter'])}")
    return "; ".join(parts)
