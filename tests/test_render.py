"""The assistant tokens, and only they, carry loss; the preview shows the same masks."""

from studio.data import render_chat, render_text
from studio.data.render import segments


def trained_text(tokenizer, rendered) -> str:
    return tokenizer.decode([t for t, m in zip(rendered.input_ids, rendered.assistant_masks, strict=False) if m])


def test_only_assistant_turns_carry_loss(tokenizer):
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Spain?"},
        {"role": "assistant", "content": "Madrid."},
    ]
    rendered = render_chat(tokenizer, messages)
    assert trained_text(tokenizer, rendered) == "Paris.<|im_end|>\nMadrid.<|im_end|>\n"
    assert tokenizer.decode(rendered.input_ids) == tokenizer.apply_chat_template(messages, tokenize=False)


def test_masks_match_what_trl_would_train_for_a_single_turn(tokenizer):
    prompt = [{"role": "user", "content": "Say hi"}]
    completion = [{"role": "assistant", "content": "Hi there!"}]
    rendered = render_chat(tokenizer, prompt + completion)
    # TRL's completion-only rule: tokens after the prompt rendered with the generation header.
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=False)
    assert rendered.input_ids[: len(prompt_ids)] == list(prompt_ids)
    assert rendered.assistant_masks == [0] * len(prompt_ids) + [1] * (len(rendered.input_ids) - len(prompt_ids))


def test_assistant_only_off_trains_everything(tokenizer):
    rendered = render_chat(
        tokenizer, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], assistant_only=False
    )
    assert all(rendered.assistant_masks)


def test_truncation_cuts_the_end_and_says_so(tokenizer):
    rendered = render_chat(
        tokenizer, [{"role": "user", "content": "Tell"}, {"role": "assistant", "content": "word " * 200}], max_length=40
    )
    assert len(rendered.input_ids) == 40 and rendered.truncated


def test_text_rows_train_every_token_and_end_with_eos(tokenizer):
    rendered = render_text(tokenizer, "Plain text for pre-training.")
    assert all(rendered.assistant_masks)
    assert rendered.input_ids[-1] == tokenizer.eos_token_id


def test_segments_rebuild_the_text(tokenizer):
    rendered = render_chat(tokenizer, [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}])
    parts = segments(tokenizer, rendered)
    assert "".join(p for p, _ in parts) == tokenizer.decode(rendered.input_ids)
    assert [p for p, trained in parts if trained] == ["A<|im_end|>\n"]


def test_tool_calls_train_but_observations_and_tools_do_not(tokenizer):
    from studio.data import load_data

    from .conftest import REAL_DATA

    data = load_data(str(REAL_DATA / "glaive_toolcall_en_demo.json"), max_rows=20)
    row = next(r for r in data.rows if any(m["role"] == "tool" for m in r["messages"]))
    rendered = render_chat(tokenizer, row["messages"])
    expected = "".join(m["content"] + "<|im_end|>\n" for m in row["messages"] if m["role"] == "assistant")
    assert trained_text(tokenizer, rendered) == expected
    tool = next(m["content"] for m in row["messages"] if m["role"] == "tool")
    assert tool in tokenizer.decode(rendered.input_ids) and tool not in trained_text(tokenizer, rendered)


def test_preview_shows_the_same_masks_and_counts(tokenizer):
    from studio.data import canonicalize
    from studio.data.preview import preview

    data = canonicalize([{"instruction": "Say hi", "output": "Hi!"}, {"instruction": "Long", "output": "word " * 80}])
    shown = preview(data, tokenizer, max_length=40)
    first = shown.examples[0]
    assert "".join(p for p, trained in first.segments if trained) == "Hi!<|im_end|>\n"
    assert first.trained_tokens == len(tokenizer("Hi!<|im_end|>\n", add_special_tokens=False)["input_ids"])
    report = shown.to_json()
    assert report["num_rows"] == 2 and report["examples"][0] == first.text
    assert report["lengths"]["truncated"] == 1 and shown.examples[1].truncated


def test_token_lengths_are_the_rendered_lengths(tokenizer):
    from studio.data.render import render_row
    from studio.data.stats import length_figure, length_stats, token_lengths

    rows = [
        {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]},
        {"text": "Plain text."},
        {
            "prompt": [{"role": "user", "content": "Pick"}],
            "chosen": [{"role": "assistant", "content": "short"}],
            "rejected": [{"role": "assistant", "content": "a much longer rejected answer than the chosen one"}],
        },
    ]
    lengths = token_lengths(tokenizer, rows)
    assert lengths[:2] == [len(render_row(tokenizer, r).input_ids) for r in rows[:2]]
    longer = {"messages": rows[2]["prompt"] + rows[2]["rejected"]}  # a pair counts its longer side
    assert lengths[2] == len(render_row(tokenizer, longer).input_ids)
    stats = length_stats(tokenizer, rows, max_length=lengths[0])
    assert stats.truncated == sum(n > lengths[0] for n in lengths)
    figure = length_figure(stats)
    assert figure.data[0].type == "histogram" and list(figure.data[0].x) == lengths
    assert (
        figure.layout.shapes[0].x0 == lengths[0] and f"{stats.truncated} of 3 cut" in figure.layout.annotations[0].text
    )


def test_preview_of_a_pair_shows_the_rejected_answer_after_its_prompt(tokenizer):
    from studio.data import canonicalize
    from studio.data.preview import preview

    data = canonicalize([{"prompt": "2+2?", "chosen": "4", "rejected": "5"}])
    example = preview(data, tokenizer).examples[0]
    assert [p for p, trained in example.segments if trained] == ["4<|im_end|>\n"]
    assert example.rejected == [("5<|im_end|>\n", True)]
    assert preview(data, tokenizer).to_json()["example_details"][0]["rejected"] == "5<|im_end|>\n"


def test_token_lengths_are_remembered_per_rows_and_tokenizer(tokenizer, monkeypatch):
    """A second preview of the same rows under the same tokenizer renders nothing (the Data tab
    answers at once while a training holds the cores); other rows or another template do."""
    import copy

    from studio.data import stats

    rows = [
        {"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": "A."}]} for i in range(3)
    ]
    first = stats.token_lengths(tokenizer, rows)
    rendered = []
    real = stats.chat_text
    monkeypatch.setattr(stats, "chat_text", lambda tok, messages: rendered.append(1) or real(tok, messages))
    first[0] = -1  # a caller changing its list does not change what is remembered
    assert stats.token_lengths(tokenizer, rows)[0] > 0 and rendered == []
    longer = rows[:2] + [{"messages": [rows[2]["messages"][0], {"role": "assistant", "content": "A longer answer."}]}]
    assert stats.token_lengths(tokenizer, longer)[2] > stats.token_lengths(tokenizer, rows)[2]
    assert len(rendered) == 3
    other = copy.deepcopy(tokenizer)
    other.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    plain = stats.token_lengths(other, rows)
    assert len(rendered) == 6 and plain[0] < stats.token_lengths(tokenizer, rows)[0]
