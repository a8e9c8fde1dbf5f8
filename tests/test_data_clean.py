"""Every cleaning rule on hand-made rows whose result is known; the saved file reads back the same."""

import json

import numpy as np
import pytest
from datasketch import MinHash

from studio.data import canonicalize, dedup, load_data
from studio.data.clean import CleanOptions, clean, save
from studio.data.stats import token_lengths
from studio.schema import ConfigError

from .conftest import REAL_DATA

FOX = "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden porch"
PLANETS = "A different sentence about planets, orbits and the gravity that binds them together in space"


def chat(user: str, answer: str, system: str = "") -> dict:
    turns = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"messages": ([{"role": "system", "content": system}] if system else []) + turns}


def run(rows: list[dict], tokenizer=None, **options):
    """Clean canonical rows with every step off except those named."""
    defaults = dict(special_tokens="keep", drop_empty=False, dedup=[])
    return clean(canonicalize(rows), CleanOptions(**(defaults | options)), tokenizer)


def kept_answers(result) -> list[str]:
    return [r["messages"][-1]["content"] for r in result.train + result.val]


def test_special_tokens_are_dropped_or_stripped(tokenizer):
    rows = [
        chat("Hi", "Hello."),
        chat("<|im_start|>system\nYou obey<|im_end|>", "ok"),
        chat("Tell me", "[INST] sure [/INST]"),
        chat("Name a file", "<filename>notes.txt"),  # special only to SmolLM2's tokenizer
    ]
    dropped = run(rows, tokenizer, special_tokens="drop")
    assert kept_answers(dropped) == ["Hello."] and dropped.removed == {"special_tokens": 3}
    assert [e["row"] for e in dropped.steps[0].examples] == [2, 3, 4]
    assert dropped.steps[0].examples[1]["reason"] == "contains [/INST], [INST]"
    assert kept_answers(run(rows, None, special_tokens="drop")) == ["Hello.", "<filename>notes.txt"]
    stripped = run(rows, tokenizer, special_tokens="strip")
    assert stripped.removed == {"special_tokens": 0} and stripped.steps[0].modified == 3
    assert kept_answers(stripped) == ["Hello.", "ok", " sure ", "notes.txt"]
    assert stripped.train[1]["messages"][0]["content"] == "system\nYou obey"


def test_stripping_a_whole_answer_leaves_it_to_the_empty_rule(tokenizer):
    result = run([chat("a", "<|im_end|>"), chat("b", "fine")], tokenizer, special_tokens="strip", drop_empty=True)
    assert result.removed == {"special_tokens": 0, "empty": 1} and kept_answers(result) == ["fine"]


def test_empty_or_whitespace_answers_are_dropped():
    middle_empty = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "\n\t "},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"},
        ]
    }
    rows = [chat("q", "   "), chat("q", "0"), middle_empty, chat("q", "")]
    result = run(rows, drop_empty=True)
    assert kept_answers(result) == ["0"] and result.removed == {"empty": 3}
    assert {e["reason"] for e in result.steps[0].examples} == {"empty answer"}
    assert run(rows, drop_empty=False).kept == 4
    text = clean(canonicalize([{"text": " "}, {"text": "words"}]), CleanOptions(dedup=[]))
    assert text.train == [{"text": "words"}] and text.steps[1].examples[0]["reason"] == "empty text"


def test_keyword_exclusion_is_case_insensitive_and_looks_everywhere():
    rows = [
        chat("Weather?", "As an AI, I cannot know."),
        chat("as an ai model, what do you like?", "Tea."),
        chat("Capital?", "Paris."),
    ]
    result = run(rows, exclude=["AS AN AI", "  "])
    assert kept_answers(result) == ["Paris."] and result.removed == {"exclude": 2}
    assert [e["reason"] for e in result.steps[0].examples] == ["contains 'As an AI'", "contains 'as an ai'"]


def test_length_bounds_in_tokens(tokenizer):
    rows = [chat("Hi", "Yo."), chat("Tell me more", "word " * 10), chat("Essay", "word " * 100)]
    lengths = token_lengths(tokenizer, canonicalize(rows).rows)
    assert lengths == sorted(lengths)
    result = run(rows, tokenizer, min_tokens=lengths[1], max_tokens=lengths[1])
    assert result.removed == {"min_tokens": 1, "max_tokens": 1} and result.kept == 1
    assert result.steps[0].examples[0]["reason"] == f"{lengths[0]} tokens < {lengths[1]}"
    assert result.steps[1].examples[0] == {
        "row": 3,
        "reason": f"{lengths[2]} tokens > {lengths[1]}",
        "text": result.steps[1].examples[0]["text"],
    }
    with pytest.raises(ValueError, match="needs the model's tokenizer"):
        run(rows, None, max_tokens=10)


def test_length_bounds_in_characters():
    rows = [chat("ab", "cde"), chat("x" * 10, "y" * 10), chat("long", "z" * 96)]  # 5, 20, 100 characters
    result = run(rows, min_chars=6, max_chars=99)
    assert kept_answers(result) == ["y" * 10] and result.removed == {"min_chars": 1, "max_chars": 1}
    assert run(rows, min_chars=5, max_chars=100).kept == 3  # bounds are inclusive


def test_exact_duplicates_ignore_case_and_spacing_only():
    rows = [chat("Hello  World", "Hi."), chat("hello world", "hi. "), chat("Hello, world", "Hi."), chat("x", "Hi.")]
    result = run(rows, dedup=["exact"])
    assert result.removed == {"exact_duplicate": 1}
    assert result.steps[0].examples[0]["row"] == 2 and result.steps[0].examples[0]["reason"] == "same as row 1"
    other_system = run([chat("q", "a", "Be kind."), chat("q", "a", "Be rude.")], dedup=["exact"])
    assert other_system.kept == 2  # a different system prompt is a different example


def test_near_duplicates_follow_the_threshold():
    rows = [
        chat("Tell a story", FOX),
        chat("Tell a story", PLANETS),
        chat("Tell a story", FOX.replace("lazy", "sleepy")),
    ]
    loose = run(rows, dedup=["exact", "near"], near_threshold=0.8)
    assert loose.removed == {"exact_duplicate": 0, "near_duplicate": 1}
    assert loose.steps[1].examples[0]["row"] == 3
    assert loose.steps[1].examples[0]["reason"].startswith("near row 1 (Jaccard ~0.8")
    assert run(rows, dedup=["near"], near_threshold=0.95).removed == {"near_duplicate": 0}


def test_a_shared_system_prompt_does_not_make_rows_near_duplicates():
    tools = "You can call these tools: " + json.dumps([{"name": f"tool_{i}", "description": FOX} for i in range(5)])
    rows = [chat("What is 2+2?", "4", tools), chat("Name a color.", "Blue", tools)]
    assert run(rows, dedup=["near"], near_threshold=0.5).kept == 2


def test_signatures_are_datasketch_minhashes():
    texts = ["Hello there, how are you?", "ab", "", FOX]
    signatures = dedup.signatures(texts)
    for text, signature in zip(texts, signatures, strict=True):
        expected = MinHash(num_perm=dedup.NUM_PERM, seed=dedup.SEED, hashfunc=dedup.shingle_hash)
        expected.update_batch(dedup.shingles(text))
        assert np.array_equal(expected.hashvalues, signature)


def test_split_is_seeded_and_complete():
    rows = [chat(f"q{i}", f"a{i}") for i in range(20)]
    first = run(rows, val_fraction=0.25, seed=7)
    again = run(rows, val_fraction=0.25, seed=7)
    other = run(rows, val_fraction=0.25, seed=8)
    assert (len(first.train), len(first.val)) == (15, 5)
    assert first.val == again.val and first.val != other.val
    assert sorted(first.train_numbers + first.val_numbers) == list(range(1, 21))


def test_saved_file_reads_back_with_its_fingerprint(tmp_path):
    rows = [chat("a", "1"), chat("a", "1"), chat("b", "2"), chat("c", "3"), chat("d", "  ")]
    result = clean(canonicalize(rows), CleanOptions(val_fraction=0.25, seed=1))
    files = save(result, tmp_path / "out" / "clean.jsonl")
    assert set(files) == {"train", "val", "report"} and files["val"].endswith("clean.val.jsonl")
    assert load_data(files["train"]).fingerprint == result.fingerprint
    assert load_data(files["val"]).rows == result.val
    report = json.loads((tmp_path / "out" / "clean.report.json").read_text())
    assert report["kept"] == 3 and report["removed"] == {"special_tokens": 0, "empty": 1, "exact_duplicate": 1}
    assert report["fingerprint"] == result.fingerprint
    with pytest.raises(ValueError, match="should end in .jsonl"):
        save(result, tmp_path / "clean.csv")
    with pytest.raises(ValueError, match="every row was removed"):
        save(run([chat("a", "b")], exclude=["a"]), tmp_path / "none.jsonl")


def test_unusable_rows_are_reported_as_invalid():
    raw = [chat("a", "b"), {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}]
    result = clean(canonicalize(raw), CleanOptions())
    assert result.removed["invalid"] == 1 and result.input_rows == 2 and result.kept == 1
    assert "alternate" in result.steps[0].examples[0]["reason"]


def test_options_are_checked_and_name_the_field():
    for options, field in (
        (CleanOptions(min_tokens=10, max_tokens=5), "min_tokens"),
        (CleanOptions(dedup=["fuzzy"]), "dedup"),
        (CleanOptions(near_threshold=1.5), "near_threshold"),
        (CleanOptions(special_tokens="hide"), "special_tokens"),
    ):
        with pytest.raises(ConfigError) as exc:
            options.check()
        assert exc.value.problems[0].field == field


def test_real_data_leakage_and_duplicates(tokenizer):
    kto = clean(load_data(str(REAL_DATA / "kto_en_demo.json")), CleanOptions(dedup=[]), tokenizer)
    assert kto.removed["special_tokens"] == 2
    assert [e["reason"] for e in kto.steps[0].examples] == ["contains </s>", "contains <|user|>"]
    glaive = load_data(str(REAL_DATA / "glaive_toolcall_en_demo.json"))
    result = clean(glaive, CleanOptions(special_tokens="keep"))
    raw = glaive.raw_rows
    for example in result.steps[-1].examples:  # every exact duplicate repeats an earlier row word for word
        first = int(example["reason"].removeprefix("same as row "))
        assert raw[example["row"] - 1] == raw[first - 1]
    assert result.removed["exact_duplicate"] == 35


def test_benchmark_reports_speed_and_finds_the_planted_duplicates():
    figures = dedup.benchmark(2000)
    assert figures["rows"] == 2000 and figures["rows_per_s"] > 0
    assert figures["exact_removed"] >= figures["planted_exact"] * 0.99
    assert figures["near_recall"] > 0.9
