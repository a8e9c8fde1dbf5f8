"""Every format reads into the canonical shape; the real datasets read as they are."""

import json

import pytest

from studio.data import DataError, RowError, canonicalize, load_data
from studio.data.formats import to_canonical

from .conftest import REAL_DATA, ROOT

REAL = [
    ("alpaca_en_demo.json", "alpaca", "chat", 999),
    ("identity.json", "alpaca", "chat", 91),
    ("dpo_en_demo.json", "preference", "preference", 300),
    ("glaive_toolcall_en_demo.json", "sharegpt", "chat", 300),
    ("kto_en_demo.json", "messages", "chat", 300),
    ("c4_demo.jsonl", "text", "text", 300),
]


@pytest.mark.parametrize("name,fmt,kind,rows", REAL)
def test_real_datasets_read_as_they_are(name, fmt, kind, rows):
    data = load_data(str(REAL_DATA / name))
    assert (data.format, data.kind, len(data.rows), len(data.skipped)) == (fmt, kind, rows, 0)


def test_sharegpt_tool_calls_become_turns_and_tools_a_system_prompt():
    data = load_data(str(REAL_DATA / "glaive_toolcall_en_demo.json"))
    raw = json.loads((REAL_DATA / "glaive_toolcall_en_demo.json").read_text())
    first_with_call = next(
        i for i, r in enumerate(raw) if any(t["from"] == "function_call" for t in r["conversations"])
    )
    messages = data.rows[first_with_call]["messages"]
    assert messages[0]["role"] == "system" and "search" in messages[0]["content"] or "tools" in messages[0]["content"]
    roles = [m["role"] for m in messages]
    assert "tool" in roles  # observation turns
    call = raw[first_with_call]["conversations"][
        [t["from"] for t in raw[first_with_call]["conversations"]].index("function_call")
    ]
    assert {"role": "assistant", "content": call["value"]} in messages


def test_sharegpt_preference_keeps_prompt_and_both_answers():
    data = load_data(str(REAL_DATA / "dpo_en_demo.json"))
    raw = json.loads((REAL_DATA / "dpo_en_demo.json").read_text())[0]
    row = data.rows[0]
    assert row["prompt"][-1] == {"role": "user", "content": raw["conversations"][-1]["value"]}
    assert row["chosen"] == [{"role": "assistant", "content": raw["chosen"]["value"]}]
    assert row["rejected"] == [{"role": "assistant", "content": raw["rejected"]["value"]}]


def test_alpaca_input_joins_instruction_and_system_comes_first():
    row = to_canonical(
        {"instruction": "Translate", "input": "chat", "output": "cat", "system": "Be brief."}, "alpaca", 1
    )
    assert row["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Translate\n\nchat"},
        {"role": "assistant", "content": "cat"},
    ]


def test_implicit_prompt_preference_splits_the_shared_prefix():
    user = {"role": "user", "content": "2+2?"}
    row = to_canonical(
        {
            "chosen": [user, {"role": "assistant", "content": "4"}],
            "rejected": [user, {"role": "assistant", "content": "5"}],
        },
        "preference",
        1,
    )
    assert row == {
        "prompt": [user],
        "chosen": [{"role": "assistant", "content": "4"}],
        "rejected": [{"role": "assistant", "content": "5"}],
    }


def test_string_preference_pairs():
    row = to_canonical({"prompt": "Hi", "chosen": "Hello!", "rejected": "..."}, "preference", 1)
    assert row["prompt"] == [{"role": "user", "content": "Hi"}]
    assert row["chosen"][0]["content"] == "Hello!"


def test_roles_that_do_not_alternate_are_named_with_the_row():
    rows = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
    ]
    data = canonicalize(rows)
    assert len(data.rows) == 1
    assert data.skipped[0].row == 2 and "alternate" in str(data.skipped[0])
    with pytest.raises(RowError, match="row 5.*alternate"):
        to_canonical(rows[1], "messages", 5)


def test_unknown_columns_list_what_was_found_and_expected():
    with pytest.raises(DataError, match=r"question, reply.*alpaca"):
        canonicalize([{"question": "q", "reply": "r"}])


def test_column_mapping(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    data = load_data(str(path), columns="instruction=question,output=answer")
    assert data.format == "alpaca"
    assert data.rows[0]["messages"][-1] == {"role": "assistant", "content": "4"}


def test_mixed_formats_in_one_file_are_refused():
    with pytest.raises(DataError, match="mixes formats"):
        canonicalize([{"instruction": "a", "output": "b"}, {"text": "c"}])


def test_malformed_json_line_is_named(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "ok"}\n{"text": broken}\n')
    with pytest.raises(DataError, match="line 3"):
        load_data(str(path))


def test_sample_assets_teach_one_behaviour():
    sft = load_data(str(ROOT / "assets" / "sample_sft.jsonl"))
    dpo = load_data(str(ROOT / "assets" / "sample_dpo.jsonl"))
    assert len(sft.rows) >= 150 and len(dpo.rows) >= 80
    assert all(r["messages"][-1]["content"].startswith("Arr, matey!") for r in sft.rows)
    assert all(r["chosen"][0]["content"].startswith("Arr, matey!") for r in dpo.rows)
    assert not any(r["rejected"][0]["content"].startswith("Arr") for r in dpo.rows)


def test_sharegpt_speakers_become_roles_and_system_stays_first():
    row = to_canonical(
        {
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hello."},
                {"from": "human", "value": "Bye"},
                {"from": "gpt", "value": "Bye."},
            ]
        },
        "sharegpt",
        1,
    )
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert row["messages"][2]["content"] == "Hello."


def test_messages_multi_turn_and_the_default_system_prompt():
    turns = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    data = canonicalize(
        [{"messages": turns}, {"messages": [{"role": "system", "content": "own"}, *turns]}], system_prompt="S"
    )
    assert data.format == "messages" and data.kind == "chat"
    assert data.rows[0]["messages"] == [{"role": "system", "content": "S"}, *turns]
    assert data.rows[1]["messages"][0] == {"role": "system", "content": "own"}  # a row's own system wins


def test_text_rows_for_continued_pretraining():
    data = canonicalize([{"text": "Once upon a time."}, {"text": "The end."}])
    assert (data.format, data.kind, data.rows[1]) == ("text", "text", {"text": "The end."})


def test_preference_with_message_lists():
    row = to_canonical(
        {
            "prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "2+2?"}],
            "chosen": [{"role": "assistant", "content": "4"}],
            "rejected": [{"role": "assistant", "content": "5"}],
        },
        "preference",
        1,
    )
    assert row["prompt"][0]["role"] == "system" and row["chosen"][0]["content"] == "4"
    assert row["rejected"] == [{"role": "assistant", "content": "5"}]


def test_manual_format_overrides_detection(tmp_path):
    path = tmp_path / "both.jsonl"
    path.write_text(json.dumps({"instruction": "a", "output": "b", "text": "raw"}) + "\n")
    assert load_data(str(path)).format == "alpaca"
    forced = load_data(str(path), fmt="text")
    assert (forced.format, forced.rows) == ("text", [{"text": "raw"}])


def test_column_mapping_to_sharegpt_and_its_errors(tmp_path):
    path = tmp_path / "dialogs.jsonl"
    turns = [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hey"}]
    path.write_text(json.dumps({"dialog": turns, "conversations": "stale"}) + "\n")
    data = load_data(str(path), columns="conversations=dialog")  # the mapped column replaces the same-named one
    assert data.format == "sharegpt" and data.rows[0]["messages"][1] == {"role": "assistant", "content": "Hey"}
    with pytest.raises(DataError, match="columns: talk not found; the file has conversations, dialog"):
        load_data(str(path), columns="conversations=talk")
    with pytest.raises(ValueError, match="should read target=source"):
        load_data(str(path), columns="conversations")
