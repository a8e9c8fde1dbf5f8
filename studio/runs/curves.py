"""Plotly figures from a run's metrics (the list of metrics.jsonl records)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PANELS = [
    ("Loss", [("loss", "train loss"), ("eval_loss", "eval loss")]),
    ("Learning rate", [("learning_rate", "learning rate")]),
    ("Grad norm", [("grad_norm", "grad norm")]),
    ("Tokens / s", [("tokens_per_s", "tokens/s")]),
]
DPO_PANELS = [
    ("Rewards", [("rewards/chosen", "chosen"), ("rewards/rejected", "rejected")]),
    ("Margin and accuracy", [("rewards/margins", "margin"), ("rewards/accuracies", "accuracy")]),
    ("Eval rewards", [("eval_rewards/chosen", "eval chosen"), ("eval_rewards/rejected", "eval rejected")]),
    (
        "Eval margin and accuracy",
        [("eval_rewards/margins", "eval margin"), ("eval_rewards/accuracies", "eval accuracy")],
    ),
]


def _series(metrics: list[dict], key: str) -> tuple[list, list]:
    points = [(m["step"], m[key]) for m in metrics if key in m and m[key] is not None]
    return [p[0] for p in points], [p[1] for p in points]


def loss_figure(metrics: list[dict], title: str = "") -> go.Figure:
    """Train and eval loss against the step."""
    fig = go.Figure()
    for key, name in PANELS[0][1]:
        x, y = _series(metrics, key)
        if x:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers" if len(x) < 60 else "lines", name=name))
    fig.update_layout(
        title=title or "Loss", xaxis_title="step", yaxis_title="loss", height=320, margin=dict(l=40, r=10, t=40, b=40)
    )
    return fig


def training_figure(metrics: list[dict], dpo: bool = False) -> go.Figure:
    """Every signal worth watching, one panel each (DPO adds rewards, margins and accuracies)."""
    panels = PANELS + (DPO_PANELS if dpo else [])
    rows = (len(panels) + 1) // 2
    fig = make_subplots(rows=rows, cols=2, subplot_titles=[p[0] for p in panels], vertical_spacing=0.12)
    for i, (_, series) in enumerate(panels):
        for key, name in series:
            x, y = _series(metrics, key)
            if x:
                mode = "lines+markers" if key.startswith("eval") or len(x) < 30 else "lines"
                fig.add_trace(go.Scatter(x=x, y=y, mode=mode, name=name), row=i // 2 + 1, col=i % 2 + 1)
    fig.update_layout(height=280 * rows, margin=dict(l=40, r=10, t=40, b=30), legend=dict(orientation="h"))
    fig.update_xaxes(title_text="step")
    return fig


def is_dpo(metrics: list[dict]) -> bool:
    return any("rewards/chosen" in m for m in metrics)


def metric_keys(curves: dict[str, list[dict]]) -> list[str]:
    """The numeric metrics present in any of the runs, the usual ones first."""
    usual = [k for _, series in PANELS + DPO_PANELS for k, _ in series]
    found = {k for metrics in curves.values() for m in metrics for k, v in m.items() if isinstance(v, (int, float))}
    found -= {"step", "epoch", "time"}
    return [k for k in usual if k in found] + sorted(found - set(usual))


def compare_figure(curves: dict[str, list[dict]], key: str = "loss") -> go.Figure:
    """One metric of several runs, overlaid."""
    fig = go.Figure()
    for name, metrics in curves.items():
        x, y = _series(metrics, key)
        if x:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name))
    fig.update_layout(title=key, xaxis_title="step", height=360, margin=dict(l=40, r=10, t=40, b=40))
    return fig
