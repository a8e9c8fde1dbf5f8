"""Scores for dataset rows: an LLM judge rates each answer from 1 to 10, or a reward model the
studio trained gives it a reward; the distribution shows where to cut, and a threshold drops the
rows below it through the Data tab's clean path, its report naming each row dropped and why.

    scored = score_rows(engine, load_data("data.jsonl"), "http://127.0.0.1:8000/v1", ScoreOptions())
    scored["scores"]        # one per row: a number, or None (no score could be read, or past the limit)
    result = clean_by_score(data, scored["scores"], 6.0, "keep", CleanOptions(), tokenizer)
    save(result, "clean.jsonl")                       # studio.data.clean: rows, validation split, report

A judge scores as in MT-Bench's single-answer grading: a short reason, then ``Rating: N``. A reply
without a readable rating in 1..10 gives no score (counted, never guessed). A scorer that names a
reward run (its id or folder) scores with its trained head (studio.models.scorer), one forward
pass per row. A chat row's answer is its last assistant turn after the turns before it; a
preference row's is its chosen answer.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

from studio.chat.backends import open_backend
from studio.config import RunConfig
from studio.data.clean import CleanOptions, CleanResult, Step, clean
from studio.data.dataset import LoadedData
from studio.evaluate.judges import question_of
from studio.models.scorer import RewardScorer
from studio.schema import option

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
RATING_SYSTEM = (
    "You are an impartial judge. Rate the quality of the AI assistant's answer to the user's question: "
    "how helpful, correct, relevant and clear it is. Explain your rating in one sentence, then give it "
    "on a last line of its own as 'Rating: N', where N is a whole number from 1 (worst) to 10 (best)."
)
_RATINGS = [
    re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]"),
    re.compile(r"\b(?:rating|score)\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)", re.IGNORECASE),
    re.compile(r"\b(\d+(?:\.\d+)?)\s*/\s*10\b"),
    re.compile(r"^\W*(\d+(?:\.\d+)?)\W*$"),
]


@dataclass
class ScoreOptions:
    score_rows: int = option(
        64, "Rows scored, from the first (0: all); the rest count as unscored.", minimum=0, maximum=10**6
    )
    rating_tokens: int = option(
        128, "Longest judge reply in tokens: its reason and its rating.", minimum=1, maximum=4096
    )
    unscored: str = option(
        "keep",
        "Rows without a score (past the limit, or no rating could be read) when filtering: keep or drop them.",
        choices=["keep", "drop"],
    )


def parse_rating(reply: str) -> tuple[float | None, str]:
    """(the rating, "") from a judge's reply, or (None, why none was read)."""
    text = (reply or "").strip()
    if not text:
        return None, "empty reply"
    for pattern in _RATINGS:
        found = {float(x) for x in pattern.findall(text)}
        if len(found) > 1:
            return None, f"contradictory ratings ({', '.join(f'{x:g}' for x in sorted(found))})"
        if found:
            value = found.pop()
            return (value, "") if 1 <= value <= 10 else (None, f"rating {value:g} is outside 1..10")
    return None, "no rating found (expected a last line 'Rating: N')"


def conversation(row: dict) -> tuple[list[dict], str] | None:
    """(the turns before the answer, the answer) of a chat or preference row; None for plain text."""
    if "messages" in row:
        turns = row["messages"]
        last = max((i for i, m in enumerate(turns) if m["role"] == "assistant"), default=None)
        return None if last is None else (turns[:last], turns[last]["content"])
    if "prompt" in row:
        return row["prompt"], " ".join(m["content"] for m in row["chosen"])
    return None


def reward_run_folder(spec: str, root: Path | None) -> Path | None:
    """The run folder when ``spec`` names a reward run (its id, folder or adapter), else None."""
    path = Path(spec)
    for folder in (path, path.parent, *((root / spec,) if root and "/" not in spec else ())):
        config = folder / "config.yaml"
        if config.exists() and RunConfig.load(config).train.method == "reward":
            return folder
    return None


def score_rows(
    engine,
    data: LoadedData,
    scorer: str,
    options: ScoreOptions | None = None,
    progress: Progress | None = None,
    source_root: Path | None = None,
) -> dict:
    """Each row's score (None where none), with the judge's replies, by a judge or a reward run."""
    options = options or ScoreOptions()
    progress = progress or (lambda fraction, message: log.info("%3.0f%% %s", 100 * fraction, message))
    scorer = (scorer or "").strip()
    if not scorer:
        raise ValueError("scorer: name a judge (model id or folder, .gguf, http(s):// URL) or a reward run")
    pairs = [conversation(row) for row in data.rows]
    if not any(pairs):
        raise ValueError(
            f"{data.source}: its rows are plain text; scoring reads a question and its answer (chat or preference rows)"
        )
    limit = len(pairs) if options.score_rows == 0 else min(options.score_rows, len(pairs))
    scores: list[float | None] = [None] * len(pairs)
    notes = ["not scored (past the limit)"] * len(pairs)
    stopped = None
    folder = reward_run_folder(scorer, source_root)
    if folder is not None:
        progress(0.1, f"loading the reward model of {folder.name}")
        chosen = [i for i in range(limit) if pairs[i]]
        values = RewardScorer.from_run_folder(folder).score(
            [pairs[i][0] + [{"role": "assistant", "content": pairs[i][1]}] for i in chosen]
        )
        for i, value in zip(chosen, values, strict=True):
            scores[i], notes[i] = round(value, 4), ""
        kind = "reward"
    else:
        backend = open_backend(scorer, engine, source_root)
        stopped = _rate(backend, pairs[:limit], scores, notes, options, progress)
        kind, scorer = "judge", backend.name
    progress(1.0, "done")
    scored = [s for s in scores if s is not None]
    return {
        "scorer": scorer,
        "kind": kind,
        "scores": scores,
        "notes": notes,
        "scored": len(scored),
        "no_score": len(scores) - len(scored),
        "fingerprint": data.fingerprint,
        "stopped": stopped,
    }


def _rate(backend, pairs: list, scores: list, notes: list, options: ScoreOptions, progress: Progress) -> str | None:
    """A judge rates each pair into ``scores``/``notes``; a failing judge stops it, keeping the scores so far."""
    for i, pair in enumerate(pairs):
        progress(i / len(pairs), f"{backend.name} rates row {i + 1} of {len(pairs)}")
        if not pair:
            notes[i] = "no answer to rate"
            continue
        messages = rating_messages(*pair)
        try:
            reply = backend.complete(messages, max_new_tokens=options.rating_tokens, temperature=0)
        except ValueError as exc:
            log.warning("scoring stopped at row %d: %s", i + 1, exc)
            return f"{backend.name} failed on row {i + 1} of {len(pairs)}: {exc}"
        scores[i], why = parse_rating(reply)
        notes[i] = why or reply.strip()
    return None


def rating_messages(turns: list[dict], answer: str) -> list[dict]:
    """What a judge is asked to rate one answer: one user turn, as the pairwise judges ask."""
    prompt = f"[Question]\n{question_of(turns).strip()}\n\n[The assistant's answer]\n{answer.strip()}\n[End of answer]"
    return [{"role": "user", "content": f"{RATING_SYSTEM}\n\n{prompt}"}]


def clean_by_score(
    data: LoadedData,
    scores: list,
    threshold: float,
    unscored: str = "keep",
    options: CleanOptions | None = None,
    tokenizer=None,
) -> CleanResult:
    """The clean path (studio.data.clean) with a first step that drops rows scored below
    ``threshold`` (and unscored ones when ``unscored`` is "drop"); its report lists them."""
    if len(scores) != len(data.rows):
        raise ValueError(f"scores: {len(scores)} for {len(data.rows)} rows; score this dataset again")
    step = Step("min_score")
    kept, numbers = [], []
    for number, row, score in zip(data.row_numbers, data.rows, scores, strict=True):
        if score is None and unscored == "drop":
            reason = "no score"
        elif score is not None and score < threshold:
            reason = f"score {score:g} < {threshold:g}"
        else:
            kept.append(row)
            numbers.append(number)
            continue
        step.removed += 1
        step.note(number, reason, row)
    result = clean(dataclasses.replace(data, rows=kept, row_numbers=numbers), options, tokenizer)
    result.steps.insert(1 if data.skipped else 0, step)  # after "invalid": in the order they ran
    result.input_rows = len(data.rows) + len(data.skipped)
    return result


def score_figure(scores: list, threshold: float | None = None, title: str = "") -> go.Figure:
    """A histogram of the scores, the threshold as a line, the unscored rows named in the title."""
    values = [s for s in scores if s is not None]
    fig = go.Figure(go.Histogram(x=values, nbinsx=min(40, max(5, len(set(values)))), marker_color="#2563eb"))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="#dc2626", annotation_text=f"threshold {threshold:g}")
    missing = len(scores) - len(values)
    fig.update_layout(
        title=f"{title} {len(values)} rows scored" + (f", {missing} without a score" if missing else ""),
        xaxis_title="score",
        yaxis_title="rows",
        height=300,
        margin=dict(l=40, r=10, t=50, b=40),
        bargap=0.05,
    )
    return fig
