"""Data from models (studio.generate): synthetic rows from a teacher and preference pairs from AI
feedback, through a real OpenAI-compatible server on loopback (scripted, so the answers are known),
the CLI, and the embedded model as teacher and judge (heavy)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest

from studio.chat.backends import open_backend
from studio.data import load_data
from studio.generate.pairs import JuryScorer, PairOptions, make_pairs, prompts_of, save_pairs
from studio.generate.synthetic import GenerateOptions, generate, parse_instruction
from tests.openai_server import openai_server

SEEDS = [
    {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    for q, a in [
        ("Name a primary colour.", "Red."),
        ("What is 3 + 4?", "7."),
        ("Give a synonym for happy.", "Glad."),
    ]
]

# What the scripted teacher writes for its i-th instruction request (None: the reply repeats a seed).
INSTRUCTIONS = [
    "1. Describe a cat in one sentence.",
    "Name the largest planet.",
    "Name a primary colour.",  # a seed: reported, never kept
    "Name the largest planet.",  # the same as an earlier new row: an exact duplicate
    "Instruction: Explain why the sky looks blue.",
    "What is the boiling point of water at sea level?",
]
EMPTY_ANSWER_FOR = "Explain why the sky looks blue."


def teacher_responder():
    asked = iter(range(10**6))

    def respond(messages, body):
        text = messages[-1]["content"]
        if "example instructions" in text:
            return INSTRUCTIONS[next(asked) % len(INSTRUCTIONS)]
        return "" if text == EMPTY_ANSWER_FOR else f"An answer to: {text}"

    return respond


def test_parse_instruction_strips_numbering_and_refuses_what_is_not_one():
    assert parse_instruction('2. "Name a fruit."', []) == ("Name a fruit.", "")
    assert parse_instruction("  ", [])[1] == "empty instruction"
    assert parse_instruction("name a PRIMARY colour.", ["Name a primary colour."])[1] == "repeats a seed instruction"
    assert "over" in parse_instruction("x" * 700, [])[1]


def test_synthetic_rows_are_cleaned_against_seeds_and_each_other(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-written")
    with openai_server(teacher_responder(), model="teacher-1") as server:
        teacher = open_backend(server.url)
        seen = []
        result = generate(SEEDS, teacher, GenerateOptions(n=6), progress=lambda d, t, m: seen.append(d))
    assert result.asked == 6 and not result.error
    assert [u["reason"] for u in result.unparsed] == ["repeats a seed instruction"]
    kept = [r["instruction"] for r in result.rows]
    assert kept == ["Describe a cat in one sentence.", "Name the largest planet.",
                    "What is the boiling point of water at sea level?"]  # fmt: skip
    assert result.clean.removed["exact_duplicate"] == 1  # the repeated planet
    assert result.clean.removed["empty"] == 1  # the empty answer: dropped and counted
    for row in result.rows:
        assert row["teacher"] == teacher.name and "sk-never" not in json.dumps(row)
        assert row["output"] == f"An answer to: {row['instruction']}"
        assert set(row["seed_rows"]) <= {1, 2, 3} and len(row["seed_rows"]) == 3
    assert seen[-1] == 6
    report = result.report()
    assert report["kept"] == 3 and report["unparsed"] == 1


def test_a_failing_teacher_keeps_what_it_made_and_stop_stops():
    with openai_server(teacher_responder()) as server:
        teacher = open_backend(server.url)

        def fail_after_two(done, total, message):
            if done == 2:
                server.status = 500

        result = generate(SEEDS, teacher, GenerateOptions(n=6), progress=fail_after_two)
        assert "HTTP 500" in result.error and len(result.rows) == 2
        server.status = None
        stop = threading.Event()
        stop.set()
        stopped = generate(SEEDS, teacher, GenerateOptions(n=6), stop=stop)
        assert stopped.stopped and stopped.asked == 0 and stopped.rows == []


def judge_by_length(messages, body):
    """A judge that prefers longer answers: the score is the answer's word count, capped at 10."""
    answer = messages[-1]["content"].split("[The assistant's answer]\n", 1)[1].split("\n[End of answer]", 1)[0]
    return f"Longer is more complete.\nRating: {min(10, len(answer.split()))}"


def sampler_by_seed(messages, body):
    return " ".join(["word"] * (1 + 3 * (body["seed"] % 4)))  # seeds 0..3: 1, 4, 7, 10 words


def test_pairs_keep_best_and_worst_by_the_jury_with_the_scores(tmp_path):
    prompts = prompts_of(SEEDS)
    assert prompts[0] == [{"role": "user", "content": "Name a primary colour."}]
    with (
        openai_server(sampler_by_seed) as s,
        openai_server(judge_by_length) as j1,
        openai_server(judge_by_length) as j2,
    ):
        sampler = open_backend(s.url)
        jury = JuryScorer([open_backend(j1.url), open_backend(j2.url)])
        result = make_pairs(prompts, sampler, jury, PairOptions(k=4, min_margin=1.0))
        assert len(s.requests) == 3 * 4 and len(j1.requests) == len(j2.requests) == 3 * 4
        strict = make_pairs(prompts[:1], sampler, jury, PairOptions(k=4, min_margin=9.5))
    assert result.prompts == 3 and len(result.pairs) == 3 and result.margins == [9.0, 9.0, 9.0]
    pair = result.pairs[0]
    assert (len(pair["chosen"].split()), len(pair["rejected"].split())) == (10, 1)
    assert pair["scores"] == [10.0, 7.0, 4.0, 1.0] and pair["scorer"] == jury.name
    assert strict.below_margin == 1 and strict.pairs == []
    files = save_pairs(result, tmp_path / "pairs.jsonl")
    data = load_data(files["pairs"])
    assert data.kind == "preference" and len(data.rows) == 3  # DPO and ORPO read it as it is
    kto = load_data(files["kto"])
    assert kto.format == "kto" and [r["label"] for r in kto.rows] == [True, False] * 3


def test_cli_generate_and_pairs_over_loopback(tmp_path, capsys):
    """generate in a process of its own (as a user runs it); pairs and its refusal through main()."""
    from studio.cli import main

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(r) + "\n" for r in SEEDS))
    with openai_server(teacher_responder()) as teacher, openai_server(judge_by_length) as judge:
        out = tmp_path / "gen.jsonl"
        done = subprocess.run(
            [sys.executable, "-m", "studio", "data", "generate", "--seed", str(seeds), "--teacher", teacher.url,
             "-n", "6", "--out", str(out), "--json"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)["kept"] == 3 and len(out.read_text().splitlines()) == 3
        assert load_data(str(out)).format == "alpaca"
        pairs = tmp_path / "pairs.jsonl"
        argv = ["data", "pairs", "--prompts", str(out), "--base", teacher.url, "--out", str(pairs)]
        assert main([*argv, "-k", "2", "--judge", judge.url]) == 0
        assert re.search(r"\d+ pairs from 3 prompts", capsys.readouterr().out)
        assert main(argv) == 2 and "--judge" in capsys.readouterr().err


@pytest.mark.heavy
def test_the_embedded_model_as_teacher_and_judge(tmp_path):
    """Offline, the shipped model writes rows and judges its own answers (a few minutes on 2 cores)."""
    teacher = open_backend("smollm2")
    result = generate(SEEDS, teacher, GenerateOptions(n=3, max_new_tokens=32))
    assert result.asked == 3 and not result.error
    assert len(result.rows) + len(result.unparsed) + sum(result.clean.removed.values()) >= 1
    pairs = make_pairs(prompts_of(SEEDS)[:2], teacher, JuryScorer([teacher]), PairOptions(k=2, max_new_tokens=24))
    assert pairs.prompts == 2 and not pairs.error
    save_pairs(pairs, tmp_path / "pairs.jsonl")


def test_a_shared_studio_calls_endpoints_only_when_its_operator_allows(tmp_path, monkeypatch):
    from studio.services import Studio

    monkeypatch.delenv("STUDIO_ENDPOINTS", raising=False)
    studio = Studio(tmp_path / "runs")
    with openai_server(lambda messages, body: "ok") as server:
        with pytest.raises(ValueError, match="STUDIO_ENDPOINTS=1"):
            studio.backend(server.url, user="alice")
        assert studio.backend(server.url, user=None).kind == "endpoint"  # the operator (CLI, scripts)
        monkeypatch.setenv("STUDIO_ENDPOINTS", "1")
        assert studio.backend(server.url, user="alice").kind == "endpoint"
