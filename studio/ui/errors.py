"""How every tab shows a user's mistake: a message card in place, a toast at most once, one log line.

A handler that refuses (a field out of range, no run picked, a busy job) either returns
``card(message)`` into a small HTML component next to its button, leaving every other output
as it was (``gr.skip()``), or raises ``user_error(message)``. Both log one INFO line and print no
traceback: Gradio prints one for every ``gr.Error`` unless it is built with
``print_exception=False``, and a traceback on the console says "bug" when the user only typed 0.
Tracebacks stay for the exceptions nobody expected.
"""

from __future__ import annotations

import html
import logging

import gradio as gr

log = logging.getLogger("studio.ui")

CARD_STYLE = {
    "error": ("#fef2f2", "#dc2626", "Not done"),
    "warning": ("#fffbeb", "#d97706", "Note"),
    "info": ("#eff6ff", "#2563eb", "Done"),
}


def user_error(message: str, title: str = "Error") -> gr.Error:
    """The gr.Error to raise for a user's mistake: one INFO line on the console, no traceback."""
    log.info("user error: %s", message)
    return gr.Error(message, title=title, print_exception=False)


def card(message: str | list[str], level: str = "error", elem_id: str = "") -> str:
    """A message card (HTML): what went wrong at which field and how to fix it, one line each.

    Logs one INFO line for an error, so the console says what the user was told."""
    lines = [message] if isinstance(message, str) else list(message)
    if level == "error":
        log.info("user error: %s", "; ".join(lines))
    background, color, heading = CARD_STYLE[level]
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    ident = f" id='{html.escape(elem_id)}'" if elem_id else ""
    return (
        f"<div{ident} class='studio-card studio-card-{level}' role='alert' style='background:{background};"
        f"border-left:4px solid {color};padding:8px 12px;border-radius:6px;margin:4px 0'>"
        f"<b style='color:{color}'>{heading}</b><ul style='margin:4px 0 0 0;padding-left:1.2em'>{items}</ul></div>"
    )
