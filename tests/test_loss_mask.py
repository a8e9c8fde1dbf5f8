"""The loss mask as the model receives it: one batch from the real trainer's dataloader.

For every format the studio reads for SFT (Alpaca, ShareGPT with tool calls and observations,
OpenAI messages, raw text), padded, padding-free and packed, the labels are -100 exactly outside
the assistant turns. The oracle does not use the studio's mask: it reads the chat template's own
markers (``<|im_start|>assistant\\n`` ... ``<|im_end|>\\n``) in the batch's tokens.
"""

from __future__ import annotations

import re

import pytest

from .conftest import REAL_DATA

SOURCES = {
    "alpaca": REAL_DATA / "alpaca_en_demo.json",
    "sharegpt": REAL_DATA / "glaive_toolcall_en_demo.json",  # function_call and observation turns
    "messages": REAL_DATA / "kto_en_demo.json",
    "text": REAL_DATA / "c4_demo.jsonl",
}
MODES = ["padded", "padding_free", "packing"]
ROWS = 8


@pytest.fixture(scope="module")
def plans(tiny_model_dir):
    """One plan per format (the rows read and rendered once); the mode only changes the trainer."""
    from studio.config import RunConfig
    from studio.train.plan import plan_run

    out = {}
    for fmt, source in SOURCES.items():
        config = RunConfig()
        config.model.model = str(tiny_model_dir)
        config.model.precision = "fp32"
        config.data.dataset = str(source)
        config.data.max_rows = ROWS
        config.data.val_fraction = 0.0
        config.train.batch_size = ROWS  # the first batch holds every row
        config.train.max_length = 1024
        config.train.max_steps = 1
        config.train.save_steps = 0
        plan = plan_run(config)
        assert plan.data.format == fmt
        out[fmt] = plan
    return out


def first_batch(plan, mode: str, tmp_path) -> dict:
    from studio.train.trainer import build_trainer

    plan.config.train.padding_free = mode == "padding_free"
    plan.config.train.packing = mode == "packing"
    trainer = build_trainer(plan, str(tmp_path / "out"))
    return next(iter(trainer.get_train_dataloader()))


def sequences(batch: dict, mode: str) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) of each example: the padded rows without their padding, or the one
    flattened row cut where the position ids start again."""
    if mode == "padded":
        out = []
        for ids, labels, keep in zip(batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True):
            assert (labels[keep == 0] == -100).all(), "padding carries loss"
            out.append((ids[keep == 1].tolist(), labels[keep == 1].tolist()))
        return out
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1
    ids, labels, positions = (batch[k][0].tolist() for k in ("input_ids", "labels", "position_ids"))
    starts = [i for i, p in enumerate(positions) if p == 0] + [len(ids)]
    return [(ids[a:b], labels[a:b]) for a, b in zip(starts, starts[1:], strict=False)]


def assistant_tokens(tokenizer, ids: list[int]) -> list[bool]:
    """True for each token of an assistant turn: after its ``<|im_start|>assistant\\n`` header,
    through its ``<|im_end|>`` and the newline the template writes after it."""
    start, end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    header = tokenizer.encode("assistant\n", add_special_tokens=False)
    newline = tokenizer.encode("\n", add_special_tokens=False)
    out, inside, i = [], False, 0
    while i < len(ids):
        if ids[i] == start:
            inside = ids[i + 1 : i + 1 + len(header)] == header
            width = 1 + len(header) if inside else 1
            out += [False] * width
            i += width
            continue
        out.append(inside)
        if ids[i] == end and inside:
            if ids[i + 1 : i + 1 + len(newline)] == newline:
                out += [True] * len(newline)
                i += len(newline)
            inside = False
        i += 1
    return out[: len(ids)]


def roles(tokenizer, ids: list[int]) -> set[str]:
    return set(re.findall(r"<\|im_start\|>(\w+)\n", tokenizer.decode(ids)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", list(SOURCES))
def test_labels_are_minus_100_exactly_outside_the_assistant_turns(plans, fmt, mode, tmp_path):
    plan = plans[fmt]
    tokenizer = plan.tokenizer
    examples = sequences(first_batch(plan, mode, tmp_path), mode)
    assert sorted(len(ids) for ids, _ in examples) == sorted(len(e["input_ids"]) for e in plan.train.examples)
    assert len(examples) == ROWS
    seen_roles = set()
    for ids, labels in examples:
        trained = [label != -100 for label in labels]
        wanted = [True] * len(ids) if fmt == "text" else assistant_tokens(tokenizer, ids)
        if mode == "padded":
            # The model predicts token i from the tokens before it: a row's first label is never read.
            trained[0] = wanted[0] = False
        else:
            # Flattened, a sequence's first label would be predicted from the previous sequence.
            wanted[0] = False
        if trained != wanted:
            first = next(i for i, (a, b) in enumerate(zip(trained, wanted, strict=True)) if a != b)
            context = tokenizer.decode(ids[max(0, first - 8) : first + 8])
            pytest.fail(f"token {first} trained={trained[first]}, expected {wanted[first]}: ...{context!r}...")
        assert all(label == token for label, token in zip(labels, ids, strict=True) if label != -100)
        assert any(trained) and (fmt == "text" or not all(trained[1:]))
        seen_roles |= roles(tokenizer, ids)
    if fmt == "sharegpt":
        assert {"system", "user", "assistant", "tool"} <= seen_roles  # observations are in the batch, masked
