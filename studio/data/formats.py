"""Recognise a dataset's format and turn each row into one canonical shape.

Canonical shapes (what the rest of the studio sees):

- chat:        {"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": str}, ...]}
- text:        {"text": str}
- preference:  {"prompt": [messages], "chosen": [messages], "rejected": [messages]}
- kto:         {"messages": [messages], "label": bool}   (a chat row judged good or bad; kind "chat")
- prompt:      {"messages": [messages ending on the user], <other columns as text>}   (GRPO; kind "prompt")

Input formats: Alpaca (instruction, input, output, system), ShareGPT (conversations of
from/value, with function_call/observation turns and a tools string), OpenAI messages
(role/content), raw text, and preference data (prompt/chosen/rejected as strings or message
lists, ShareGPT conversations with chosen/rejected messages, or implicit-prompt pairs whose
chosen and rejected are whole conversations sharing a prefix), KTO rows (messages or
prompt/completion with a true/false label; chosen explicitly, as auto reads messages+label as
messages) and prompt-only rows for GRPO (a prompt column; the other columns, such as a reference
answer, kept as text).
"""

from __future__ import annotations

import json
from typing import Any

from studio.config.choices import FORMATS  # the one table of formats: names, kinds, columns

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}
MESSAGE_ROLES = {"system", "user", "assistant", "tool"}

EXPECTED = ", ".join(f"{name} ({f.columns})" for name, f in FORMATS.items())


class RowError(ValueError):
    """A row that cannot be used, with its 1-based number in the file."""

    def __init__(self, row: int, message: str):
        self.row = row
        self.reason = message
        super().__init__(f"row {row}: {message}")


def detect_format(columns: list[str] | set[str], sample: dict | None = None) -> str | None:
    """The format implied by a row's keys, or None when no known format fits."""
    cols = set(columns)
    if {"chosen", "rejected"} <= cols:
        return "preference"
    if "conversations" in cols:
        return "sharegpt"
    if "messages" in cols:
        return "messages"
    if {"instruction", "output"} <= cols:
        return "alpaca"
    if "text" in cols:
        return "text"
    if {"prompt", "completion", "label"} <= cols:
        return "kto"
    if {"prompt", "completion"} <= cols:
        return "alpaca"  # prompt/completion pairs read as instruction/output
    if "prompt" in cols:
        return "prompt"
    return None


def kind_of(fmt: str) -> str:
    """The canonical shape a format becomes: chat, text, preference or prompt (FORMATS)."""
    return FORMATS[fmt].kind if fmt in FORMATS else "chat"


def parse_column_mapping(spec: str) -> dict[str, str]:
    """'instruction=question,output=answer' -> {'question': 'instruction', 'answer': 'output'}."""
    mapping = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"columns: {part!r} should read target=source, e.g. instruction=question")
        target, source = (s.strip() for s in part.split("=", 1))
        if not target or not source:
            raise ValueError(f"columns: {part!r} should read target=source, e.g. instruction=question")
        mapping[source] = target
    return mapping


def _text(value: Any, row: int, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    raise RowError(row, f"{name} should be text, found {type(value).__name__}")


def _with_system(messages: list[dict], system: str) -> list[dict]:
    if system and not (messages and messages[0]["role"] == "system"):
        return [{"role": "system", "content": system}, *messages]
    return messages


def check_turns(messages: list[dict], row: int, need_answer: bool = True) -> list[dict]:
    """Roles must be known; after an optional system turn, user and assistant alternate."""
    if not messages:
        raise RowError(row, "the conversation is empty")
    body = messages[1:] if messages[0]["role"] == "system" else messages
    if any(m["role"] == "system" for m in body):
        raise RowError(row, "a system turn may only come first")
    previous = None
    for i, m in enumerate(body):
        role = m["role"]
        if role not in MESSAGE_ROLES:
            raise RowError(row, f"turn {i + 1} has unknown role {role!r}; expected user, assistant, system or tool")
        if role == previous and role in ("user", "assistant"):
            raise RowError(
                row, f"turns {i} and {i + 1} are both {role}: roles must alternate between user and assistant"
            )
        previous = role
    if body and body[0]["role"] not in ("user",):
        raise RowError(row, f"the conversation starts with {body[0]['role']}; it should start with user")
    if need_answer and not any(m["role"] == "assistant" for m in body):
        raise RowError(row, "the conversation has no assistant turn to learn from")
    return messages


def _sharegpt_messages(turns: Any, row: int, system: str = "") -> list[dict]:
    if not isinstance(turns, list):
        raise RowError(row, "conversations should be a list of {from, value} turns")
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise RowError(row, f"turn {i + 1} should be an object with 'from' and 'value'")
        role = SHAREGPT_ROLES.get(str(turn["from"]).lower())
        if role is None:
            raise RowError(row, f"turn {i + 1} has unknown speaker {turn['from']!r}; expected human, gpt or system")
        messages.append({"role": role, "content": _text(turn["value"], row, "value")})
    return _with_system(messages, system)


def _openai_messages(value: Any, row: int) -> list[dict]:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise RowError(row, "messages should be a list of {role, content}")
    messages = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise RowError(row, f"message {i + 1} should be an object with 'role' and 'content'")
        if "from" in m and "value" in m:  # a ShareGPT turn inside a preference row
            messages.extend(_sharegpt_messages([m], row))
            continue
        if "role" not in m or "content" not in m:
            raise RowError(row, f"message {i + 1} should have 'role' and 'content'")
        messages.append({"role": str(m["role"]).lower(), "content": _text(m["content"], row, "content")})
    return messages


def _tools_system(example: dict, row: int) -> str:
    """Tool definitions (a JSON string or list) become part of the system prompt."""
    tools = example.get("tools")
    if not tools:
        return _text(example.get("system"), row, "system")
    if not isinstance(tools, str):
        tools = json.dumps(tools, ensure_ascii=False)
    system = _text(example.get("system"), row, "system")
    return (system + "\n\n" if system else "") + "You can call these tools:\n" + tools


def _split_shared_prefix(chosen: list[dict], rejected: list[dict]) -> tuple[list, list, list]:
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    while n > 0 and chosen[n - 1]["role"] == "assistant":
        n -= 1  # the prompt ends on the user's turn
    return chosen[:n], chosen[n:], rejected[n:]


def to_canonical(example: dict, fmt: str, row: int, system_prompt: str = "") -> dict:
    """One raw row in format ``fmt`` -> its canonical shape; raises RowError naming the problem."""
    if fmt == "alpaca":
        instruction = _text(example.get("instruction", example.get("prompt")), row, "instruction")
        extra = _text(example.get("input"), row, "input")
        output = _text(example.get("output", example.get("completion")), row, "output")
        if not instruction.strip() and not extra.strip():
            raise RowError(row, "instruction and input are both empty")
        user = f"{instruction}\n\n{extra}" if instruction.strip() and extra.strip() else instruction or extra
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        history = example.get("history")
        if isinstance(history, list):
            past = []
            for pair in history:
                if isinstance(pair, (list, tuple)) and len(pair) == 2:
                    past += [{"role": "user", "content": str(pair[0])}, {"role": "assistant", "content": str(pair[1])}]
            messages = past + messages
        system = _text(example.get("system"), row, "system") or system_prompt
        return {"messages": check_turns(_with_system(messages, system), row)}
    if fmt == "sharegpt":
        messages = _sharegpt_messages(example.get("conversations"), row, _tools_system(example, row) or system_prompt)
        return {"messages": check_turns(messages, row)}
    if fmt == "messages":
        messages = _openai_messages(example.get("messages"), row)
        return {"messages": check_turns(_with_system(messages, system_prompt), row)}
    if fmt == "text":
        text = _text(example.get("text"), row, "text")
        return {"text": text}
    if fmt == "preference":
        return _preference(example, row, system_prompt)
    if fmt == "kto":
        return _kto(example, row, system_prompt)
    if fmt == "prompt":
        return _prompt_only(example, row, system_prompt)
    raise ValueError(f"format: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _preference(example: dict, row: int, system_prompt: str) -> dict:
    if "chosen" not in example or "rejected" not in example:
        raise RowError(row, "a preference row needs 'chosen' and 'rejected'")
    chosen = _openai_messages(example["chosen"], row)
    rejected = _openai_messages(example["rejected"], row)
    if "conversations" in example:
        prompt = _sharegpt_messages(example["conversations"], row, _tools_system(example, row))
    elif "prompt" in example and example["prompt"] is not None:
        raw = example["prompt"]
        prompt = [{"role": "user", "content": raw}] if isinstance(raw, str) else _openai_messages(raw, row)
    else:  # implicit prompt: chosen and rejected are whole conversations sharing a prefix
        prompt, chosen, rejected = _split_shared_prefix(chosen, rejected)
        if not prompt:
            raise RowError(row, "chosen and rejected share no prompt; add a 'prompt' column")
    prompt = _with_system(prompt, system_prompt)
    for name, answer in (("chosen", chosen), ("rejected", rejected)):
        if not answer or not any(m["content"].strip() for m in answer):
            raise RowError(row, f"{name} is empty")
        if answer[0]["role"] != "assistant":
            answer[0] = {"role": "assistant", "content": answer[0]["content"]}
    check_turns(prompt + chosen[:1], row)
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


LABELS = {"true": True, "1": True, "yes": True, "good": True, "false": False, "0": False, "no": False, "bad": False}


def _label(value: Any, row: int) -> bool:
    label = value if isinstance(value, bool) else LABELS.get(str(value).strip().lower())
    if label is None:
        raise RowError(row, f"label should be true or false, found {value!r}")
    return label


def _kto(example: dict, row: int, system_prompt: str) -> dict:
    if "label" not in example or example["label"] is None:
        raise RowError(row, "a KTO row needs a 'label' (true for a good answer, false for a bad one)")
    if "messages" in example and example["messages"] is not None:
        messages = _openai_messages(example["messages"], row)
    elif "prompt" in example and "completion" in example:
        raw = example["prompt"]
        prompt = [{"role": "user", "content": raw}] if isinstance(raw, str) else _openai_messages(raw, row)
        answer = example["completion"]
        messages = prompt + (
            [{"role": "assistant", "content": answer}] if isinstance(answer, str) else _openai_messages(answer, row)
        )
    else:
        raise RowError(row, "a KTO row needs 'messages', or 'prompt' and 'completion'")
    messages = check_turns(_with_system(messages, system_prompt), row)
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise RowError(row, "a KTO row must end on a non-empty assistant answer (the one the label judges)")
    return {"messages": messages, "label": _label(example["label"], row)}


def _prompt_only(example: dict, row: int, system_prompt: str) -> dict:
    raw = example.get("prompt")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise RowError(row, "the prompt is empty")
    messages = [{"role": "user", "content": raw}] if isinstance(raw, str) else _openai_messages(raw, row)
    messages = check_turns(_with_system(messages, system_prompt), row, need_answer=False)
    if messages[-1]["role"] != "user":
        raise RowError(row, "a prompt must end on the user's turn (the model answers it)")
    extra = {
        k: str(v) for k, v in example.items() if k not in ("prompt", "messages") and isinstance(v, (str, int, float))
    }
    return {"messages": messages, **extra}
