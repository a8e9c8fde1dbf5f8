"""Preference pairs from AI feedback: sample K answers per prompt, score them, keep the best and the
worst as chosen and rejected when they differ enough. The guides' RLHF loop with the people
replaced by a scorer: SFT, then pairs, then DPO (or ORPO, KTO) with the existing methods.

    python -m studio data pairs --prompts assets/sample_sft.jsonl --base -k 4 --judge smollm2 --out pairs.jsonl
    python -m studio data pairs --prompts prompts.jsonl --run <id> -k 4 --reward-run <reward id> --out pairs.jsonl
    make_pairs(prompts, sampler, scorer, PairOptions(k=4))          # -> PairsResult

The sampler is any studio.chat.backends backend (the base, a run's adapter, an endpoint); each
of the K answers is drawn with its own seed at ``temperature``. The scorer is a jury of judges
(backends asked to rate an answer from 1 to 10 as the Data tab's scorers ask,
studio.evaluate.row_scores; their mean is the score) or a reward-model run
(studio.models.scorer: one number per conversation). Rows are written in the preference format
the studio trains on (prompt as messages, chosen, rejected) with every score, the margin, the
sampler and the scorer kept; ``<out>.kto.jsonl`` beside it holds each kept answer once with its
label for KTO.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from studio.evaluate.row_scores import parse_rating, rating_messages
from studio.generate.options import PairOptions

RATING_TOKENS = 128  # a judge's reason and its 'Rating: N' line

Progress = Callable[[int, int, str], None]


@dataclass
class PairsResult:
    pairs: list[dict] = field(default_factory=list)
    prompts: int = 0
    below_margin: int = 0
    unscored: int = 0  # answers no judge gave a readable score
    empty: int = 0  # answers dropped as empty
    margins: list[float] = field(default_factory=list)  # every prompt's best-worst margin
    error: str = ""
    stopped: bool = False
    seconds: float = 0.0

    def report(self) -> dict:
        return {
            "prompts": self.prompts,
            "pairs": len(self.pairs),
            "below_margin": self.below_margin,
            "unscored_answers": self.unscored,
            "empty_answers": self.empty,
            "margins": [round(m, 3) for m in self.margins],
            "error": self.error,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 1),
        }


class JuryScorer:
    """Judges (backends) rating each answer 1-10; the score is their mean, None if none could say."""

    def __init__(self, judges: list):
        if not judges:
            raise ValueError("name at least one judge (--judge) or a reward-model run (--reward-run)")
        self.judges = judges
        self.name = " + ".join(j.name for j in judges)

    def score(self, prompt: list[dict], answers: list[str]) -> list[float | None]:
        out = []
        for answer in answers:
            asks = [rating_messages(prompt, answer) for _ in self.judges]
            marks = [
                parse_rating(j.complete(ask, max_new_tokens=RATING_TOKENS, temperature=0.0))[0]
                for j, ask in zip(self.judges, asks, strict=True)
            ]
            marks = [m for m in marks if m is not None]
            out.append(statistics.fmean(marks) if marks else None)
        return out


class RewardRunScorer:
    """A reward-model run (method reward) as the scorer."""

    def __init__(self, run_path: str | Path, name: str = ""):
        from studio.models.scorer import RewardScorer  # lazy: cli-startup - torch, only when a reward run scores

        self.scorer = RewardScorer.from_run_folder(run_path)
        self.name = name or f"reward run {Path(run_path).name}"

    def score(self, prompt: list[dict], answers: list[str]) -> list[float | None]:
        return self.scorer.score([[*prompt, {"role": "assistant", "content": a}] for a in answers])


def prompts_of(rows: list[dict]) -> list[list[dict]]:
    """The prompt of each canonical row: a preference row's prompt, else the turns before the first answer."""
    out = []
    for row in rows:
        if "prompt" in row:
            out.append(row["prompt"])
            continue
        turns = []
        for message in row.get("messages", []):
            if message["role"] == "assistant":
                break
            turns.append(message)
        if any(m["role"] == "user" for m in turns):
            out.append(turns)
    if not out:
        raise ValueError("no prompt found in these rows (a user turn, or a prompt column)")
    return out


def make_pairs(
    prompts: list[list[dict]],
    sampler,
    scorer,
    options: PairOptions | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> PairsResult:
    o = options or PairOptions()
    result, started = PairsResult(), time.monotonic()
    todo = prompts[: o.limit]
    for n, prompt in enumerate(todo, 1):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        try:
            answers = [
                sampler.complete(
                    prompt, max_new_tokens=o.max_new_tokens, temperature=o.temperature, seed=o.random_seed + i
                )
                for i in range(o.k)
            ]
            _pair(prompt, answers, scorer, o, result, sampler.name)
        except ValueError as exc:  # a backend's failure: keep the pairs made so far
            result.error = f"stopped after {result.prompts} prompts: {exc}"
            break
        if progress:
            progress(n, len(todo), f"{len(result.pairs)} pairs from {result.prompts} prompts")
    result.seconds = time.monotonic() - started
    return result


def _pair(prompt: list[dict], answers: list[str], scorer, o: PairOptions, result: PairsResult, sampler: str) -> None:
    result.prompts += 1
    unique = list(dict.fromkeys(a.strip() for a in answers))
    result.empty += sum(1 for a in unique if not a)
    unique = [a for a in unique if a]
    if len(unique) < 2:
        result.below_margin += 1
        return
    scores = scorer.score(prompt, unique)
    result.unscored += sum(1 for s in scores if s is None)
    scored = sorted(((s, a) for s, a in zip(scores, unique, strict=True) if s is not None), key=lambda x: -x[0])
    if len(scored) < 2:
        result.below_margin += 1
        return
    (best, chosen), (worst, rejected) = scored[0], scored[-1]
    result.margins.append(best - worst)
    if best - worst < o.min_margin:
        result.below_margin += 1
        return
    result.pairs.append(
        {
            "prompt": prompt,
            "chosen": chosen,
            "rejected": rejected,
            "score_chosen": best,
            "score_rejected": worst,
            "margin": best - worst,
            "scores": [s for s, _ in scored],
            "sampler": sampler,
            "scorer": scorer.name,
        }
    )


def save_pairs(result: PairsResult, out: str | Path) -> dict[str, str]:
    """The pairs (preference format) and their KTO rows beside them, plus a report."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kto = out.with_suffix(".kto.jsonl")
    with out.open("w") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in result.pairs)
    with kto.open("w") as f:
        for p in result.pairs:
            for answer, label in ((p["chosen"], True), (p["rejected"], False)):
                row = {"prompt": p["prompt"], "completion": answer, "label": label, "scorer": p["scorer"]}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = out.with_suffix(".report.json")
    report.write_text(json.dumps(result.report(), indent=2))
    return {"pairs": str(out), "kto": str(kto), "report": str(report)}


def margin_figure(margins: list[float], min_margin: float):
    """A histogram of every prompt's best-minus-worst score, the kept margin marked."""
    import plotly.graph_objects as go  # lazy: cli-startup - only the app draws it

    figure = go.Figure(go.Histogram(x=margins, nbinsx=20, marker_color="#6366f1", name="prompts"))
    figure.add_vline(x=min_margin, line_color="#dc2626", annotation_text=f"kept from {min_margin:g}")
    figure.update_layout(
        xaxis_title="best score - worst score", yaxis_title="prompts", height=260, margin=dict(t=30, b=40, l=50, r=20)
    )
    return figure
