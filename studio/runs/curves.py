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

# Drawn when the run logs the panel's first metric (reward model, ORPO, KTO, GRPO): SFT logs an entropy
# too, but a panel named after GRPO's clipped answers is no place for it. GRPO's per-function rewards
# are added by name (rewards/<function>/mean and /std, studio.train.methods.grpo_rewards).
METHOD_PANELS = [
    ("Reward model accuracy and margin", [("accuracy", "accuracy"), ("margin", "margin")]),
    ("Eval accuracy and margin", [("eval_accuracy", "eval accuracy"), ("eval_margin", "eval margin")]),
    ("Log-odds (ORPO)", [("log_odds_ratio", "log-odds ratio"), ("log_odds_chosen", "log-odds chosen")]),
    ("KL", [("kl", "KL")]),
    ("Completion length", [("completions/mean_length", "mean length")]),
    ("Clipped share and entropy", [("completions/clipped_ratio", "clipped share"), ("entropy", "entropy")]),
]


def reward_panels(metrics: list[dict]) -> list[tuple[str, list]]:
    """GRPO: the mean and the spread of each reward function, and the weighted total."""
    names = sorted({k[len("rewards/") : -len("/mean")] for m in metrics for k in m if _is_function_mean(k)})
    if not names:
        return []
    means = [(f"rewards/{n}/mean", n) for n in names] + [("reward", "total")]
    spreads = [(f"rewards/{n}/std", f"{n} std") for n in names] + [("reward_std", "total std")]
    return [("Reward per function (mean)", means), ("Reward spread (std)", spreads)]


def _is_function_mean(key: str) -> bool:
    return key.startswith("rewards/") and key.endswith("/mean") and key.count("/") == 2


def _present(metrics: list[dict], panel: tuple[str, list]) -> bool:
    return bool(_series(metrics, panel[1][0][0])[0])


def _series(metrics: list[dict], key: str) -> tuple[list, list]:
    points = [(m["step"], m[key]) for m in metrics if key in m and m[key] is not None]
    return [p[0] for p in points], [p[1] for p in points]


# One colour per metric, whatever else is drawn: a curve keeps its colour when eval loss appears.
COLORS = {
    "loss": "#2563eb",
    "eval_loss": "#dc2626",
    "learning_rate": "#16a34a",
    "grad_norm": "#9333ea",
    "tokens_per_s": "#d97706",
    "rewards/chosen": "#16a34a",
    "rewards/rejected": "#dc2626",
    "rewards/margins": "#2563eb",
    "rewards/accuracies": "#d97706",
    "eval_rewards/chosen": "#15803d",
    "eval_rewards/rejected": "#b91c1c",
    "eval_rewards/margins": "#1d4ed8",
    "eval_rewards/accuracies": "#b45309",
}
EMPTY_TEXT = (
    "The curves appear here once training logs its first step:<br>"
    "train and eval loss, learning rate, grad norm and tokens/s."
)


def placeholder_figure(text: str = EMPTY_TEXT, height: int = 220) -> go.Figure:
    """What an empty plot says instead of showing a bare grid: what will appear there, and when."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="rgba(0,0,0,0)")
    return fig


def training_figure(metrics: list[dict], dpo: bool = False) -> go.Figure:
    """Every signal worth watching, one panel each (DPO adds rewards, margins and accuracies).

    A panel of several curves has its own small legend in its corner; a panel of one curve needs
    none (its title names it): one legend for all, under a GRPO run's ten panels, listed 20 names."""
    if not any(_series(metrics, key)[0] for _, series in PANELS for key, _ in series):
        return placeholder_figure()
    panels = PANELS + (DPO_PANELS if dpo else []) + reward_panels(metrics)
    panels += [p for p in METHOD_PANELS if _present(metrics, p)]
    rows = (len(panels) + 1) // 2
    fig = make_subplots(rows=rows, cols=2, subplot_titles=[p[0] for p in panels], vertical_spacing=0.12)
    legends = {}
    for i, (_, series) in enumerate(panels):
        drawn = [(key, name, *_series(metrics, key)) for key, name in series]
        drawn = [d for d in drawn if d[2]]
        legend = f"legend{len(legends) + 2}" if len(drawn) > 1 else None
        for key, name, x, y in drawn:
            mode = "lines+markers" if key.startswith("eval") or len(x) < 30 else "lines"
            color = COLORS.get(key)
            line, marker = dict(color=color), dict(color=color)
            trace = go.Scatter(x=x, y=y, mode=mode, name=name, line=line, marker=marker, legend=legend)
            trace.showlegend = legend is not None
            fig.add_trace(trace, row=i // 2 + 1, col=i % 2 + 1)
        if legend:
            legends[legend] = _corner(fig, i)
    fig.update_layout(height=280 * rows, margin=dict(l=40, r=10, t=40, b=30), **legends)
    # "step" under the bottom row only: on every row it sat on top of the next row's titles.
    fig.update_xaxes(title_text="step", row=rows)
    return fig


def _corner(fig: go.Figure, index: int) -> dict:
    """A legend in the top right corner of subplot ``index`` (its axes' domains, in paper coordinates)."""
    suffix = "" if index == 0 else str(index + 1)
    x, y = fig.layout[f"xaxis{suffix}"].domain, fig.layout[f"yaxis{suffix}"].domain
    return dict(x=x[1], y=y[1], xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.7)", font=dict(size=10))


def is_dpo(metrics: list[dict]) -> bool:
    return any("rewards/chosen" in m for m in metrics)


def metric_keys(curves: dict[str, list[dict]]) -> list[str]:
    """The numeric metrics present in any of the runs, the usual ones first."""
    usual = [k for _, series in PANELS + DPO_PANELS + METHOD_PANELS for k, _ in series]
    found = {k for metrics in curves.values() for m in metrics for k, v in m.items() if isinstance(v, (int, float))}
    found -= {"step", "epoch", "time"}
    return [k for k in usual if k in found] + sorted(found - set(usual))


def compare_figure(curves: dict[str, list[dict]], key: str = "loss") -> go.Figure:
    """One metric of several runs, overlaid."""
    if not any(_series(metrics, key)[0] for metrics in curves.values()):
        return placeholder_figure(f"None of these runs has logged {key} yet.")
    fig = go.Figure()
    for name, metrics in curves.items():
        x, y = _series(metrics, key)
        if x:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name))
    fig.update_layout(title=key, xaxis_title="step", height=360, margin=dict(l=40, r=10, t=40, b=40))
    return fig
