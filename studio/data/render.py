"""The exact tokens a model trains on, and which of them carry loss.

Chat templates rarely carry ``{% generation %}`` markers (SmolLM2's does not), so TRL's
``assistant_only_loss`` refuses them. Instead each conversation is rendered once, every
assistant turn is located by rendering the conversation up to it, and the tokens of that turn
(its content and end-of-turn marker) are marked. Training receives ``input_ids`` and
``assistant_masks`` from here, and the Data tab's preview shows the same masks, so what the
user sees is what the model learns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Rendered:
    text: str
    input_ids: list[int]
    assistant_masks: list[int]
    truncated: bool
    prompt_tokens: int  # tokens before the first trained token

    @property
    def trained_tokens(self) -> int:
        return sum(self.assistant_masks)


def chat_text(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def end_of_turn_token(tokenizer) -> str | None:
    """The special token the chat template closes an assistant turn with (``<|im_end|>`` for ChatML)."""
    marker = "XYZZY-END-OF-TURN"
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    after = text.split(marker, 1)[1].lstrip(" ") if marker in text else ""
    specials = sorted(set(tokenizer.all_special_tokens) | set(tokenizer.get_added_vocab()), key=len, reverse=True)
    return next((token for token in specials if token and after.startswith(token)), None)


def _assistant_spans(tokenizer, messages: list[dict], full: str) -> list[tuple[int, int]]:
    """Character spans of each assistant turn in ``full``: from after its header to its end."""
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = chat_text(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        through = chat_text(tokenizer, messages[: i + 1])
        if not full.startswith(before) or not full.startswith(through):
            # A template that rewrites earlier turns (e.g. drops past reasoning): fall back to
            # locating the content itself.
            start = full.find(message["content"], spans[-1][1] if spans else 0)
            if start < 0:
                continue
            end = start + len(message["content"])
            closing = end_of_turn_token(tokenizer) or ""  # the turn's end is trained too: it teaches to stop
            spans.append((start, end + len(closing) if closing and full.startswith(closing, end) else end))
            continue
        spans.append((len(before), len(through)))
    return spans


def render_chat(
    tokenizer, messages: list[dict], max_length: int | None = None, assistant_only: bool = True
) -> Rendered:
    """Tokens of a conversation under the tokenizer's chat template, with the assistant mask."""
    full = chat_text(tokenizer, messages)
    encoding = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoding["input_ids"]
    if assistant_only:
        spans = _assistant_spans(tokenizer, messages, full)
        mask = [int(any(s <= start < e for s, e in spans)) for start, _ in encoding["offset_mapping"]]
    else:
        mask = [1] * len(ids)
    return _finish(full, ids, mask, max_length)


def render_text(tokenizer, text: str, max_length: int | None = None) -> Rendered:
    """Raw text for continued pre-training: every token trains, and the sequence ends with EOS."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if eos is not None and (not ids or ids[-1] != eos):
        ids = ids + [eos]
    return _finish(text + (tokenizer.eos_token or ""), ids, [1] * len(ids), max_length)


def _finish(text: str, ids: list[int], mask: list[int], max_length: int | None) -> Rendered:
    prompt_tokens = mask.index(1) if 1 in mask else len(mask)
    truncated = max_length is not None and len(ids) > max_length
    if truncated:
        ids, mask = ids[:max_length], mask[:max_length]
    return Rendered(text, ids, mask, truncated, prompt_tokens)


def render_row(tokenizer, row: dict, max_length: int | None = None, assistant_only: bool = True) -> Rendered:
    """Render a canonical chat or text row (see studio.data.formats)."""
    if "messages" in row:
        return render_chat(tokenizer, row["messages"], max_length, assistant_only)
    if "text" in row:
        return render_text(tokenizer, row["text"], max_length)
    if "prompt" in row:  # a preference pair shows as its chosen conversation
        return render_chat(tokenizer, row["prompt"] + row["chosen"], max_length, assistant_only)
    raise ValueError("row has neither messages, text nor prompt")


def segments(tokenizer, rendered: Rendered) -> list[tuple[str, bool]]:
    """The rendered text cut into (piece, trained) runs, for a highlighted preview."""
    out: list[tuple[str, bool]] = []
    start = 0
    for i in range(1, len(rendered.input_ids) + 1):
        if i == len(rendered.input_ids) or rendered.assistant_masks[i] != rendered.assistant_masks[start]:
            piece = tokenizer.decode(rendered.input_ids[start:i])
            out.append((piece, bool(rendered.assistant_masks[start])))
            start = i
    return out
