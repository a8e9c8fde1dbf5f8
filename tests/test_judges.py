"""LLM judges: a jury of loopback-server judges with scripted habits decides base vs adapter on the
tiny run's held-out prompts and people's hand-written arena votes; the figures are known in advance.

- "always A" names whichever answer is shown first: its position bias is 100% and, asked in both
  orders, every pair it judges is a tie; on people's votes it never agrees.
- "longer" (two of them, answering in different formats) picks the longer answer in either order.
"""

from __future__ import annotations

import json
import re

import pytest

from studio.chat.arena import record_vote
from studio.chat.engine import ChatEngine
from studio.evaluate.agreement import MIN_VOTES, cohen_kappa, wilson
from studio.evaluate.judge_report import verdict_rows
from studio.evaluate.judges import JudgeOptions, judge_run
from tests.openai_server import openai_server

ANSWERS = re.compile(r"\[Answer A\]\n(.*)\n\[End of answer A\]\n\n\[Answer B\]\n(.*)\n\[End of answer B\]", re.S)


def _answers(messages):
    return ANSWERS.search(messages[-1]["content"]).groups()


def always_a(messages, body):
    return "The first answer reads well.\nVerdict: A"


def longer(messages, body):
    a, b = _answers(messages)
    label = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
    return f"Answer {label} says more.\nVerdict: {label}"


def longer_bracketed(messages, body):
    a, b = _answers(messages)
    return "[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]"


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return ChatEngine(str(tiny_model_dir))


def _votes(path):
    """Six people's votes: the longer answer chosen in the first four, the shorter in the last two."""
    pairs = [
        ("Long answer here.", "Short."),
        ("Quite a long one.", "No."),
        ("Yes, certainly so.", "Ok."),
        ("A detailed reply.", "Hm."),
        ("Tiny.", "A much longer reply."),
        ("Brief.", "Rather wordy answer."),
    ]
    for i, (chosen, rejected) in enumerate(pairs):
        prompt = [{"role": "user", "content": f"Question {i}?"}]
        record_vote(path, prompt, [("run-x", chosen), ("base", rejected)], winner=0)


@pytest.fixture(scope="module")
def jury(engine, tiny_sft_run, tmp_path_factory, monkeypatch_module):
    arena = tmp_path_factory.mktemp("arena") / "preferences.jsonl"
    _votes(arena)
    with openai_server(always_a) as a, openai_server(longer) as b, openai_server(longer_bracketed) as c:
        urls = [a.url + "?model=always-a", b.url + "?model=longer", c.url + "?model=bracketed"]
        options = JudgeOptions(judge_prompts=4, answer_tokens=12, people_votes=50)
        summary = judge_run(engine, tiny_sft_run, urls, options, arena=arena)
        asked = [len(s.requests) for s in (a, b, c)]
    return summary, asked


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        for name in ("OPENAI_API_KEY", "OPENAI_MODEL"):
            mp.delenv(name, raising=False)
        yield mp


def test_each_pair_is_asked_in_both_orders_and_always_a_cancels_out(jury, tiny_sft_run):
    summary, asked = jury
    assert asked == [2 * (4 + 6)] * 3  # 4 held-out pairs and 6 people's votes, each in both orders
    names = summary["judges"]
    biased = summary["results"][names[0]]
    assert biased["position_bias"] == 1.0 and biased["flips"] == 4
    assert (biased["win"], biased["tie"], biased["loss"], biased["no_verdict"]) == (0, 4, 0, 0)
    lines = [json.loads(x) for x in (tiny_sft_run.path / "judgements.jsonl").read_text().splitlines()]
    assert len(lines) == 3 * 2 * 10 and all(ln["reply"] for ln in lines)
    assert summary["sides"] == ["base", tiny_sft_run.id] and summary["stopped"] is None


def test_the_longer_answer_judges_and_the_jury_know_their_score(jury, tiny_sft_run):
    summary, _ = jury
    lines = [json.loads(x) for x in (tiny_sft_run.path / "judgements.jsonl").read_text().splitlines()]
    pairs = {ln["item"]: ln["answers"] for ln in lines if ln["task"] == "compare"}
    win = sum(len(adapter.strip()) > len(base.strip()) for base, adapter in pairs.values())
    loss = sum(len(adapter.strip()) < len(base.strip()) for base, adapter in pairs.values())
    expected = (win, 4 - win - loss, loss)
    names = summary["judges"]
    for name in (names[1], names[2], "jury"):  # the jury: tie (always A), X, X -> X
        r = summary["results"][name]
        assert (r["win"], r["tie"], r["loss"]) == expected, name
        assert r["position_bias"] == 0.0 and r["win_ci"] == wilson(win, 4)
    assert summary["results"]["jury"]["pairs"] == 4


def test_agreement_with_people_and_kappa_on_hand_made_votes(jury):
    summary, _ = jury
    people = summary["people"]
    assert people["votes"] == 6 and people["needed"] == MIN_VOTES - 6
    # People chose the longer answer 4 times in 6. Shown alternately first and second, people say
    # F S F S F S and the longer-answer judge F S F S S F: p_o = 4/6, p_e = 0.5, kappa = 1/3.
    for name in (summary["judges"][1], "jury"):
        a = people["judges"][name]
        assert (a["agree"], a["judged"], a["agreement"]) == (4, 6, 0.6667)
        assert a["kappa"] == pytest.approx(1 / 3, abs=1e-4) and a["reaches_target"] is None
    biased = people["judges"][summary["judges"][0]]  # all ties: never the people's choice
    assert biased["agree"] == 0 and biased["kappa"] == 0.0 and biased["reaches_target"] is False


def test_kappa_and_intervals_by_hand():
    assert cohen_kappa(["first", "second", "first"], ["first", "second", "second"]) == 0.4
    assert cohen_kappa(["first"] * 3, ["first"] * 3) is None  # one label only: undefined
    assert wilson(0, 0) is None and wilson(10, 10)[1] == 1.0 and 0.39 < wilson(7, 10)[0] < 0.40
    assert MIN_VOTES == 62


def test_an_unreadable_verdict_is_counted_never_a_tie_and_a_failing_judge_keeps_what_it_did(
    engine, tiny_sft_run, monkeypatch_module
):
    calls = []

    def flaky(messages, body):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("overloaded")
        return "Both have merits; hard to say."

    with openai_server(flaky) as server:
        options = JudgeOptions(judge_prompts=3, answer_tokens=6, people_votes=0)
        summary = judge_run(engine, tiny_sft_run, [server.url + "?model=flaky"], options)
    assert "flaky" in summary["stopped"] and "pair 2 of 3, order 2 of 2" in summary["stopped"]
    assert "HTTP 500" in summary["stopped"]
    result = summary["results"][summary["judges"][0]]
    assert (result["pairs"], result["no_verdict"], result["tie"]) == (1, 1, 0)
    lines = [json.loads(x) for x in (tiny_sft_run.path / "judgements.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(ln["verdict"] is None and "no verdict found" in ln["unparsed"] for ln in lines)
    saved = json.loads((tiny_sft_run.path / "judge.json").read_text())
    assert saved["stopped"] == summary["stopped"]
    table = verdict_rows(lines)
    assert [row[7] for row in table["data"]] == ["none", "unfinished"]
    assert table["data"][1][6] == "not asked"


def test_a_judge_that_does_not_answer_is_refused_before_any_work(engine, tiny_sft_run, monkeypatch_module):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match="did not answer.*server running"):
        judge_run(engine, tiny_sft_run, [f"http://127.0.0.1:{port}/v1"], JudgeOptions(judge_prompts=1))
    with pytest.raises(ValueError, match="at least one"):
        judge_run(engine, tiny_sft_run, [" "], JudgeOptions(judge_prompts=1))


def test_the_tiny_model_judges_as_a_weak_but_real_judge(engine, tiny_sft_run, tiny_model_dir):
    options = JudgeOptions(judge_prompts=2, answer_tokens=4, judge_tokens=6, people_votes=0)
    summary = judge_run(engine, tiny_sft_run, [str(tiny_model_dir)], options)
    r = summary["results"][str(tiny_model_dir)]
    assert r["pairs"] == 2 and r["win"] + r["tie"] + r["loss"] + r["no_verdict"] == 2
    lines = [json.loads(x) for x in (tiny_sft_run.path / "judgements.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and all(isinstance(ln["reply"], str) for ln in lines)
    assert all((ln["verdict"] is None) == bool(ln["unparsed"]) for ln in lines)


def test_the_command_line_prints_the_table_and_json_and_says_where_it_stopped(tiny_sft_run, capsys, monkeypatch_module):
    from studio.cli import main

    args = ["eval", "--run", tiny_sft_run.id, "--runs-dir", str(tiny_sft_run.path.parent)]
    args += ["--judge-prompts", "2", "--answer-tokens", "4", "--people-votes", "0"]
    with openai_server(always_a) as server:
        assert main([*args, "--judge", server.url + "?model=always-a"]) == 0
        out = capsys.readouterr().out
        assert "position bias" in out and "100%" in out and "No people's votes yet" in out
        server.status = 503  # the endpoint now refuses: exit 2, the JSON says where it stopped
        assert main([*args, "--judge", server.url + "?model=always-a", "--json"]) == 2
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["stopped"].startswith(server.url) and "HTTP 503" in summary["stopped"]
    assert "judging stopped" in captured.err and "pair 1 of 2, order 1 of 2" in captured.err
    assert set(summary["results"][summary["judges"][0]]) >= {"win", "tie", "loss", "win_ci", "position_bias"}


def test_the_app_refuses_a_judge_folder_outside_the_model_folders(tiny_sft_run):
    from studio.services import Studio

    studio = Studio(tiny_sft_run.path.parent)
    with pytest.raises(ValueError, match="/etc"):
        studio.judge(tiny_sft_run.id, ["/etc"], JudgeOptions(judge_prompts=1))


@pytest.mark.slow
@pytest.mark.heavy  # the embedded model loads beside the tiny one and writes 8 replies (12 took 11 min on busy cores)
def test_the_embedded_model_is_a_weak_but_real_judge(engine, tiny_sft_run, tmp_path, embedded_dir):
    arena = tmp_path / "preferences.jsonl"
    _votes(arena)
    options = JudgeOptions(judge_prompts=2, answer_tokens=12, judge_tokens=32, people_votes=2)
    summary = judge_run(engine, tiny_sft_run, ["smollm2"], options, arena=arena)
    r, people = summary["results"]["smollm2"], summary["people"]["judges"]["smollm2"]
    assert r["pairs"] == 2 and r["win"] + r["tie"] + r["loss"] + r["no_verdict"] == 2
    assert people["votes"] == 2 and people["judged"] + people["no_verdict"] == 2
    lines = [json.loads(x) for x in (tiny_sft_run.path / "judgements.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * (2 + 2) and all(ln["reply"].strip() for ln in lines)  # it answers, read or not
    assert all((ln["verdict"] is None) == bool(ln["unparsed"]) for ln in lines)


def test_versus_judges_two_sources_on_one_base(engine, tiny_sft_run, monkeypatch_module):
    # The adapter against itself: the same greedy answers, so a consistent judge can only tie.
    with openai_server(longer) as server:
        options = JudgeOptions(judge_prompts=2, answer_tokens=6, people_votes=0)
        summary = judge_run(
            engine, tiny_sft_run, [server.url + "?model=l"], options, versus=str(tiny_sft_run.adapter_dir)
        )
    assert summary["sides"] == [tiny_sft_run.id, tiny_sft_run.id]
    assert summary["results"][summary["judges"][0]]["tie"] == 2


def test_a_shared_studio_calls_endpoints_only_when_its_operator_allows(tmp_path, monkeypatch):
    from studio.services import Studio

    monkeypatch.delenv("STUDIO_ENDPOINTS", raising=False)
    studio = Studio(tmp_path)
    with pytest.raises(ValueError, match="STUDIO_ENDPOINTS=1"):
        studio._judge_spec("http://127.0.0.1:9/v1", "alice")  # a signed-in person, before any request
    assert studio._judge_spec("http://127.0.0.1:9/v1", None) == "http://127.0.0.1:9/v1"  # the operator may
    monkeypatch.setenv("STUDIO_ENDPOINTS", "1")
    assert studio._judge_spec("http://127.0.0.1:9/v1", "alice") == "http://127.0.0.1:9/v1"
