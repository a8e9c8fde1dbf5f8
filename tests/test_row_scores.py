"""Scorers for data: a loopback judge rates the sample rows by a known rule, a reward run trained in
the studio scores preference rows, and a threshold cleans through the clean path with its report."""

from __future__ import annotations

import json
import math
import re

import pytest

from studio.data import load_data
from studio.data.clean import CleanOptions
from studio.evaluate.row_scores import ScoreOptions, clean_by_score, parse_rating, score_rows
from studio.services import Studio
from tests.openai_server import openai_server

from .conftest import ROOT

SFT = str(ROOT / "assets" / "sample_sft.jsonl")
DPO_DATA = str(ROOT / "assets" / "sample_dpo.jsonl")
PARAMS = {"source": SFT, "format": "auto", "columns": "", "system": ""}


def by_length(messages, body):
    """Rates an answer 1 + its length in characters // 25, at most 10."""
    answer = re.search(r"\[The assistant's answer\]\n(.*)\n\[End of answer\]", messages[-1]["content"], re.S).group(1)
    return f"Long enough.\nRating: {min(10, 1 + len(answer) // 25)}"


def test_ratings_are_read_by_explicit_marks_only():
    assert parse_rating("Good.\nRating: 7") == (7.0, "")
    assert parse_rating("[[8]]") == (8.0, "") and parse_rating("I'd give it 6/10.")[0] == 6.0
    assert parse_rating("Rating: 12")[0] is None and "outside" in parse_rating("Rating: 12")[1]
    assert parse_rating("Rating: 3 ... no, Rating: 9")[0] is None  # contradictory
    assert parse_rating("It is fine.") == (None, "no rating found (expected a last line 'Rating: N')")


@pytest.fixture
def studio(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CLEANED_DIR", str(tmp_path / "datasets"))
    for name in ("OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return Studio(runs_dir)


def test_a_judge_scores_rows_and_a_threshold_cleans_with_the_report(studio, tiny_model_dir):
    data = load_data(SFT)
    expected = [min(10, 1 + len(row["messages"][-1]["content"].strip()) // 25) for row in data.rows[:10]]
    with openai_server(by_length) as server:
        scored = studio.score_data(PARAMS, server.url + "?model=rater", ScoreOptions(score_rows=10))
    assert scored["kind"] == "judge" and scored["scores"][:10] == expected and scored["stopped"] is None
    assert scored["scores"][10:] == [None] * (len(data.rows) - 10) and scored["no_score"] == len(data.rows) - 10
    threshold = sorted(set(expected))[len(set(expected)) // 2]  # the middle distinct score
    view = studio.score_view(PARAMS, scored, threshold)
    assert view["table"]["data"][0][1] == min(expected) and view["figure"].layout.shapes  # the threshold line
    out = studio.clean_scored(PARAMS, scored, threshold, "drop", CleanOptions(dedup=[]), str(tiny_model_dir))
    below = sum(s < threshold for s in expected)
    assert 0 < below < 10
    step = out["steps"][0]
    assert step["name"] == "min_score" and step["removed"] == below + len(data.rows) - 10
    assert out["kept"] == 10 - below and out["input_rows"] == len(data.rows)
    assert any(e["reason"].startswith("score ") for e in step["examples"])
    lines = [json.loads(x) for x in open(out["files"]["scores"], encoding="utf-8")]
    assert [ln["score"] for ln in lines[:10]] == expected and lines[0]["note"].startswith("Long enough")
    kept = clean_by_score(data, scored["scores"], threshold, "keep", CleanOptions(dedup=[]))
    assert kept.kept == len(data.rows) - below  # unscored rows kept this time


def test_a_failing_judge_keeps_the_scores_so_far(studio):
    calls = []

    def tired(messages, body):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("overloaded")
        return "Rating: 5"

    with openai_server(tired) as server:
        scored = studio.score_data(PARAMS, server.url + "?model=tired", ScoreOptions(score_rows=4))
    assert scored["scores"][:3] == [5.0, 5.0, None] and "row 3 of 4" in scored["stopped"]
    with pytest.raises(ValueError, match="scorer: name a judge"):
        studio.score_data(PARAMS, " ", ScoreOptions())


def test_a_reward_run_trained_in_the_studio_scores_preference_rows(make_run):
    run = make_run(method="reward", dataset=DPO_DATA, max_rows=16, val_fraction=0.25, batch_size=2, max_steps=4,
                   probe_prompts="Who are you?")  # fmt: skip
    data = load_data(DPO_DATA, max_rows=6)
    scored = score_rows(None, data, str(run.path), ScoreOptions(score_rows=4))
    assert scored["kind"] == "reward" and scored["scored"] == 4 and scored["scores"][4:] == [None, None]
    assert all(math.isfinite(s) for s in scored["scores"][:4]) and len(set(scored["scores"][:4])) > 1
