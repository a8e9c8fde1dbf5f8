"""Arena votes become preference pairs that the data loader reads as DPO data."""

import json

import pytest

from studio.chat.arena import count_pairs, record_vote
from studio.data import load_data

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of France?"},
]


def test_votes_accumulate_into_preference_jsonl_read_by_load_data(tmp_path):
    path = tmp_path / "arena" / "preferences.jsonl"
    answers = [("base", "Paris."), ("run-a", "Arr, Paris it be!"), ("run-b", "Lyon.")]
    assert record_vote(path, CONVERSATION, answers, winner=1) == 2  # run-a beats base and run-b

    data = load_data(str(path))
    assert data.format == "preference" and data.kind == "preference" and len(data.rows) == 2
    first = data.rows[0]
    assert first["prompt"] == CONVERSATION
    assert first["chosen"] == [{"role": "assistant", "content": "Arr, Paris it be!"}]
    assert {r["rejected"][0]["content"] for r in data.rows} == {"Paris.", "Lyon."}
    assert json.loads(path.read_text().splitlines()[0])["rejected_model"] == "base"


def test_the_same_vote_twice_is_recorded_once(tmp_path):
    path = tmp_path / "prefs.jsonl"
    answers = [("base", "Paris."), ("tuned", "Arr, Paris!")]
    assert record_vote(path, CONVERSATION, answers, winner=1) == 1
    assert record_vote(path, CONVERSATION, answers, winner=1) == 0
    assert count_pairs(path) == 1


def test_a_dpo_run_accepts_the_votes(tmp_path, tiny_model_dir):
    from studio.config import RunConfig
    from studio.train.plan import plan_run

    path = tmp_path / "prefs.jsonl"
    for i in range(3):
        turn = [{"role": "user", "content": f"Question {i}?"}]
        record_vote(path, turn, [("base", f"Answer {i}."), ("tuned", f"Arr, answer {i}!")], winner=1)
    config = RunConfig()
    config.model.model = str(tiny_model_dir)
    config.train.method = "dpo"
    config.data.dataset = str(path)
    plan = plan_run(config)
    assert len(plan.train.examples) == 3 and plan.data.format == "preference"


@pytest.mark.parametrize(
    "prompt, answers, winner, message",
    [
        ([], [("a", "x"), ("b", "y")], 0, "no answered user turn"),
        (CONVERSATION, [("a", "x"), ("b", "y")], 2, "column 3 does not exist"),
        (CONVERSATION, [("a", ""), ("b", "y")], 0, "empty answer"),
        (CONVERSATION, [("a", "same"), ("b", "same")], 0, "nothing to prefer"),
    ],
)
def test_votes_that_cannot_make_a_pair_are_refused(tmp_path, prompt, answers, winner, message):
    with pytest.raises(ValueError, match=message):
        record_vote(tmp_path / "p.jsonl", prompt, answers, winner)
    assert not (tmp_path / "p.jsonl").exists()


def test_votes_also_become_kto_rows_a_kto_run_accepts(tmp_path, tiny_model_dir):
    from studio.config import RunConfig
    from studio.train.plan import plan_run

    path = tmp_path / "arena" / "preferences.jsonl"
    answers = [("base", "Paris."), ("run-a", "Arr, Paris it be!"), ("run-b", "Lyon.")]
    record_vote(path, CONVERSATION, answers, winner=1)
    record_vote(path, CONVERSATION, answers, winner=1)  # the same vote again: no new rows
    record_vote(path, CONVERSATION, [("base", "Paris."), ("run-b", "Marseille.")], winner=0)
    kto = tmp_path / "arena" / "kto.jsonl"
    rows = [json.loads(line) for line in kto.read_text().splitlines()]
    labelled = {(r["messages"][-1]["content"], r["label"]) for r in rows}
    # Each voted answer once per verdict; "Paris." lost the first vote and won the second.
    assert labelled == {
        ("Arr, Paris it be!", True),
        ("Paris.", False),
        ("Lyon.", False),
        ("Paris.", True),
        ("Marseille.", False),
    }
    assert len(rows) == 5 and all(r["messages"][:-1] == CONVERSATION for r in rows)

    data = load_data(str(kto), "kto")  # format auto reads them as chat rows; a KTO run reads the labels
    assert data.format == "kto" and [r["label"] for r in data.rows] == [r["label"] for r in rows]
    config = RunConfig()
    config.model.model = str(tiny_model_dir)
    config.train.method = "kto"
    config.data.dataset = str(kto)
    config.data.val_fraction = 0.0
    assert len(plan_run(config).train.examples) == 5
