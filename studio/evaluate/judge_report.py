"""Judges' verdicts on disk and on screen: the summary of judgements.jsonl (per judge and for the
jury), its tables, a chart, and every verdict with its rationale to browse.

    summary = summarize(lines, ["http://127.0.0.1:8000/v1 (judge)"], ["base", "run-x"], votes=12)
    summary["results"]["jury"]["win_ci"]     # [0.21, 0.64]: the adapter's win rate, 95% Wilson
    summary["people"]["judges"][name]["kappa"]

The summary is computed from the verdict lines alone, so it can be recomputed from the file and
a run stopped half-way summarizes what it finished: a pair counts for a judge once both of its
orders were asked, and for the jury once every judge has both.
"""

from __future__ import annotations

import json
from collections import defaultdict

import plotly.graph_objects as go

from studio.evaluate.agreement import MIN_VOTES, TARGET, agreement, combine, majority, tally, votes_needed
from studio.runs.directory import Run

JUDGEMENTS = "judgements.jsonl"
SUMMARY = "judge.json"
JURY = "jury"


def _grouped(lines: list[dict], task: str) -> dict[int, dict]:
    """item -> {"line": its first line, "asks": {judge: {order: outcome}}}."""
    items: dict[int, dict] = defaultdict(lambda: {"line": None, "asks": defaultdict(dict)})
    for line in lines:
        if line.get("task") == task:
            item = items[line["item"]]
            item["line"] = item["line"] or line
            item["asks"][line["judge"]][line["order"]] = line["outcome"]
    return items


def _complete(asks: dict, judges: list[str]) -> bool:
    return all(len(asks.get(judge, {})) == 2 for judge in judges)


def _jury_orders(asks: dict, judges: list[str]) -> tuple[str, bool]:
    """The jury's outcome (majority of the judges' outcomes) and whether its majority flipped
    between the two orders (a majority of the first-order verdicts against one of the second)."""
    outcomes = [combine(asks[j][0], asks[j][1])[0] for j in judges]
    first, second = (majority([asks[j][order] for j in judges]) for order in (0, 1))
    return majority(outcomes), combine(first, second)[1]


def _per_judge(items: dict, judges: list[str]) -> dict[str, list[tuple[int, str, bool, bool]]]:
    """judge (and jury) -> [(item, outcome, flipped, both orders gave a verdict)] over finished pairs."""
    out: dict[str, list] = {judge: [] for judge in judges}
    if len(judges) > 1:
        out[JURY] = []
    for item, entry in sorted(items.items()):
        asks = entry["asks"]
        for judge in judges:
            if _complete(asks, [judge]):
                o, flipped = combine(asks[judge][0], asks[judge][1])
                out[judge].append((item, o, flipped, "none" not in asks[judge].values()))
        if len(judges) > 1 and _complete(asks, judges):
            o, flipped = _jury_orders(asks, judges)
            orders = [majority([asks[j][order] for j in judges]) for order in (0, 1)]
            out[JURY].append((item, o, flipped, "none" not in orders))
    return out


def summarize(lines: list[dict], judges: list[str], labels: list[str], votes: int) -> dict:
    """Win/tie/loss with intervals and position bias per judge and jury; agreement with people."""
    compare = _per_judge(_grouped(lines, "compare"), judges)
    results = {
        name: tally([o for _, o, _, _ in rows], sum(f for *_, f, _ in rows), sum(b for *_, b in rows))
        for name, rows in compare.items()
    }
    people_items = _grouped(lines, "people")
    people = {}
    for name, rows in _per_judge(people_items, judges).items():
        said = [people_items[item]["line"]["people"] for item, *_ in rows]
        people[name] = agreement(said, [o for _, o, _, _ in rows])
        people[name]["needed"] = votes_needed(people[name]["judged"])
    return {
        "judges": judges,
        "labels": labels,
        "results": results,
        "people": {
            "votes": votes,
            "target": TARGET,
            "min_votes": MIN_VOTES,
            "needed": votes_needed(votes),
            "judges": people,
        },
    }


def load_summary(run: Run) -> dict | None:
    return run.read_json(SUMMARY) or None


def load_judgements(run: Run) -> list[dict]:
    path = run.path / JUDGEMENTS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- on screen ----------------------------------------------------------------------------------


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _ci(interval) -> str:
    return "" if not interval else f" ({100 * interval[0]:.0f}-{100 * interval[1]:.0f}%)"


def results_rows(summary: dict) -> dict:
    """One row per judge and the jury: the second side's (the adapter's) wins, ties, losses, rates, bias."""
    headers = [
        "judge",
        "wins",
        "ties",
        "losses",
        "no verdict",
        "win rate (95% CI)",
        "loss rate (95% CI)",
        "position bias",
    ]
    data = []
    for name, r in summary.get("results", {}).items():
        data.append(
            [
                name,
                r["win"],
                r["tie"],
                r["loss"],
                r["no_verdict"],
                _pct(r["win_rate"]) + _ci(r["win_ci"]),
                _pct(r["loss_rate"]) + _ci(r["loss_ci"]),
                _pct(r["position_bias"]),
            ]
        )
    return {"headers": headers, "data": data}


def people_rows(summary: dict) -> dict:
    """One row per judge and the jury: agreement with people's votes, kappa, and the 80% line."""
    people = summary.get("people", {})
    headers = [
        "judge",
        "votes decided",
        "agreement (95% CI)",
        "Cohen's kappa",
        f"vs {_pct(TARGET)}",
        "more votes needed",
    ]
    data = []
    for name, a in people.get("judges", {}).items():
        line = {True: "reaches it", False: "below it", None: "undecided"}[a["reaches_target"]]
        if a["needed"]:
            line = f"too few votes ({line})"
        kappa = "-" if a["kappa"] is None else f"{a['kappa']:.2f}"
        data.append([name, a["judged"], _pct(a["agreement"]) + _ci(a["agreement_ci"]), kappa, line, a["needed"]])
    return {"headers": headers, "data": data}


def people_note(summary: dict) -> str:
    """One sentence on the people's votes: how many, and how many more the rule asks for."""
    people = summary.get("people", {})
    votes, needed = people.get("votes", 0), people.get("needed", MIN_VOTES)
    rule = (
        f"an agreement is read against the guides' {_pct(TARGET)} once {MIN_VOTES} votes are decided "
        f"(its 95% interval is then within ±10 points)"
    )
    if not votes:
        return f"No people's votes yet: vote in the Chat tab's arena; {rule}, so {MIN_VOTES} are needed."
    more = f"{needed} more needed" if needed else "enough"
    return f"{votes} people's votes from the arena checked: {more}; {rule}."


VERDICT_HEADERS = (
    "#", "judge", "question", "answer 1", "answer 2", "order 1 (1 is A)", "order 2 (2 is A)", "verdict", "rationale",
)  # fmt: skip


def verdict_rows(lines: list[dict], task: str = "compare") -> dict:
    """Every pair and judge: the question, the answers, each order's verdict and the rationale."""
    headers = list(VERDICT_HEADERS)
    data = []
    for item, entry in sorted(_grouped(lines, task).items()):
        first = entry["line"]
        for judge, asks in entry["asks"].items():
            replies = {
                ln["order"]: ln
                for ln in lines
                if ln.get("task") == task and ln["item"] == item and ln["judge"] == judge
            }
            verdict = combine(asks[0], asks[1])[0] if len(asks) == 2 else "unfinished"
            cells = [_said(replies.get(order)) for order in (0, 1)]
            why = "\n---\n".join(f"order {o + 1}: {r['reply'].strip()}" for o, r in sorted(replies.items()))
            data.append([item + 1, judge, first["question"], *first["answers"], *cells, verdict, why])
    return {"headers": headers, "data": data}


def _said(line: dict | None) -> str:
    if line is None:
        return "not asked"
    if line["verdict"] is None:
        return f"no verdict: {line['unparsed']}"
    return f"{line['verdict']} -> {line['outcome']}"


def results_figure(summary: dict) -> go.Figure:
    """Stacked bars per judge and jury: the second side's wins, ties and losses among decided pairs."""
    labels = summary.get("labels", ["base", "adapter"])
    names = list(summary.get("results", {}))
    fig = go.Figure()
    for key, title, colour in (
        ("win", f"{labels[1]} better", "#2563eb"),
        ("tie", "tie", "#9ca3af"),
        ("loss", f"{labels[0]} better", "#f59e0b"),
    ):
        rates = [summary["results"][n][f"{key}_rate"] or 0 for n in names]
        fig.add_bar(
            y=names,
            x=rates,
            name=title,
            orientation="h",
            marker_color=colour,
            text=[_pct(r) for r in rates],
            textposition="inside",
        )
    fig.update_layout(
        barmode="stack",
        height=120 + 40 * len(names),
        margin=dict(l=10, r=10, t=50, b=30),
        title=f"{labels[1]} vs {labels[0]}: share of judged pairs",
        xaxis_tickformat=".0%",
    )
    return fig
