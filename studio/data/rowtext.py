"""The texts inside a canonical row (see studio.data.formats), for cleaning and display.

A row is chat ``{"messages"}``, text ``{"text"}`` or preference ``{"prompt", "chosen", "rejected"}``;
cleaning rules look at its fields without caring which.
"""

from __future__ import annotations


def fields(row: dict) -> list[tuple[str, str]]:
    """(label, text) of every text in the row, in order; labels are roles or section names."""
    if "text" in row:
        return [("text", row["text"])]
    if "messages" in row:
        return [(m["role"], m["content"]) for m in row["messages"]]
    out = [(m["role"], m["content"]) for m in row["prompt"]]
    out += [("chosen", m["content"]) for m in row["chosen"]]
    out += [("rejected", m["content"]) for m in row["rejected"]]
    return out


def answers(row: dict) -> list[str]:
    """The texts a model learns to produce: assistant turns, chosen and rejected, or the raw text."""
    if "text" in row:
        return [row["text"]]
    if "messages" in row:
        return [m["content"] for m in row["messages"] if m["role"] == "assistant"]
    return [m["content"] for m in row["chosen"] + row["rejected"] if m["role"] == "assistant"]


def row_text(row: dict) -> str:
    """All the row's text in one string, roles included (what duplicates are judged on)."""
    return "\n".join(f"{label}: {text}" for label, text in fields(row))


def content_text(row: dict) -> str:
    """The row's text without roles and system prompts (what near duplicates are judged on).

    A system prompt shared by every row (tool definitions, a persona) would make all rows look
    alike, so it is left out here; exact duplicates still tell system prompts apart.
    """
    return "\n".join(text for label, text in fields(row) if label != "system")


def map_texts(row: dict, change) -> dict:
    """A copy of the row with ``change(text)`` applied to every text."""
    if "text" in row:
        return {"text": change(row["text"])}
    if "messages" in row:
        return {"messages": [{**m, "content": change(m["content"])} for m in row["messages"]]}
    return {key: [{**m, "content": change(m["content"])} for m in row[key]] for key in ("prompt", "chosen", "rejected")}


def preview_text(row: dict, limit: int = 240) -> str:
    """A one-line summary of the row for tables of examples."""
    text = " | ".join(f"{label}: {' '.join(text.split())}" for label, text in fields(row))
    return text if len(text) <= limit else text[: limit - 3] + "..."
