"""How long the examples are, in the tokens training sees, and how many the max length cuts.

    stats = length_stats(tokenizer, data, max_length=512)
    stats.truncated, stats.p95; length_figure(stats)       # a plotly histogram, max length marked

A length is the number of tokens ``render_row`` gives the row (chat template included), so
the count of truncated examples is the one training will truncate. Preference rows count
their longer pair (prompt + chosen, or prompt + rejected).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import plotly.graph_objects as go

from studio.data.dataset import fingerprint
from studio.data.render import chat_text
from studio.data.rowtext import fields

BATCH = 2000
# Token lengths by (rows' fingerprint, tokenizer): a preview of data already measured under the same
# tokenizer and template answers at once, while a training holds the cores (issue 16).
_LENGTHS: OrderedDict[tuple, list[int]] = OrderedDict()
_LENGTHS_KEPT = 32
_LENGTHS_LOCK = threading.Lock()


def _sequences(tokenizer, row: dict) -> list[str]:
    if "text" in row:
        return [row["text"]]
    if "messages" in row:
        return [chat_text(tokenizer, row["messages"])]
    return [chat_text(tokenizer, row["prompt"] + row[key]) for key in ("chosen", "rejected")]


def _tokenizer_key(tokenizer) -> tuple:
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else repr(tokenizer.chat_template)
    return (
        getattr(tokenizer, "name_or_path", ""),
        len(tokenizer),
        tokenizer.eos_token_id,
        hashlib.sha256((template or "").encode()).hexdigest()[:16],
    )


def token_lengths(tokenizer, rows: list[dict]) -> list[int]:
    """Tokens of each row as rendered for training (text rows gain their end-of-sequence token);
    remembered for the last few row sets and tokenizers."""
    key = (fingerprint(rows), *_tokenizer_key(tokenizer))
    with _LENGTHS_LOCK:
        if key in _LENGTHS:
            _LENGTHS.move_to_end(key)
            return list(_LENGTHS[key])
    lengths = _measure(tokenizer, rows)
    with _LENGTHS_LOCK:
        _LENGTHS[key] = list(lengths)
        while len(_LENGTHS) > _LENGTHS_KEPT:
            _LENGTHS.popitem(last=False)
    return lengths


def _measure(tokenizer, rows: list[dict]) -> list[int]:
    eos = tokenizer.eos_token_id
    out = []
    for lo in range(0, len(rows), BATCH):
        block = rows[lo : lo + BATCH]
        texts, owners = [], []
        for i, row in enumerate(block):
            for text in _sequences(tokenizer, row):
                texts.append(text)
                owners.append(i)
        lengths = [0] * len(block)
        for owner, ids in zip(owners, tokenizer(texts, add_special_tokens=False)["input_ids"], strict=True):
            n = len(ids)
            if "text" in block[owner] and eos is not None and (not ids or ids[-1] != eos):
                n += 1
            lengths[owner] = max(lengths[owner], n)
        out += lengths
    return out


def char_lengths(rows: list[dict]) -> list[int]:
    """Characters of all the row's texts together (roles and template excluded)."""
    return [sum(len(text) for _, text in fields(row)) for row in rows]


@dataclass
class LengthStats:
    lengths: list[int]
    max_length: int | None
    total: int  # rows in the dataset; lengths may cover only the first of them
    unit: str = "tokens"

    @property
    def truncated(self) -> int:
        return 0 if not self.max_length else sum(n > self.max_length for n in self.lengths)

    def percentile(self, q: float) -> int:
        ordered = sorted(self.lengths)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0

    def suggested(self, share: float = 0.95) -> int:
        """A max length (a multiple of 64) that keeps ``share`` of the measured rows whole."""
        return -(-self.percentile(share) // 64) * 64

    def to_json(self) -> dict:
        return {
            "unit": self.unit,
            "measured": len(self.lengths),
            "total": self.total,
            "max_length": self.max_length,
            "truncated": self.truncated,
            "mean": round(sum(self.lengths) / max(1, len(self.lengths)), 1),
            "median": self.percentile(0.5),
            "p95": self.percentile(0.95),
            "max": max(self.lengths, default=0),
            "keeps_95_percent": self.suggested(0.95),
            "keeps_all": self.suggested(1.0),
        }

    def describe(self) -> str:
        j = self.to_json()
        scope = f" (first {j['measured']} of {j['total']} rows)" if j["measured"] < j["total"] else ""
        text = f"Token lengths{scope}: median {j['median']}, p95 {j['p95']}, max {j['max']}."
        if self.max_length:
            text += f" **{self.truncated}** of {j['measured']} exceed the max length {self.max_length} and are cut."
        return text + self.advice()

    def advice(self) -> str:
        """What max length to set when it cuts rows: one that keeps 95% of them whole, or all of them."""
        if not self.truncated:
            return ""
        most, every = self.suggested(0.95), self.suggested(1.0)
        if most > self.max_length:
            tail = f" ({every} keeps every row, at more memory per step)" if every > most else ""
            return f" Set the max length to **{most}** to keep 95% of the rows whole{tail}."
        return f" Fewer than 5% are cut; a max length of **{every}** keeps every row whole."


def length_stats(tokenizer, rows: list[dict], max_length: int | None = None, limit: int = 20_000) -> LengthStats:
    """Token lengths of the first ``limit`` rows (rendering all of a huge set would keep the UI waiting)."""
    return LengthStats(token_lengths(tokenizer, rows[:limit]), max_length, len(rows))


def length_figure(stats: LengthStats, title: str = "Token lengths under the chat template"):
    """A histogram of the lengths; the max length is a red line, with how many it cuts."""
    figure = go.Figure(go.Histogram(x=stats.lengths, nbinsx=60, marker_color="#6366f1", name="examples"))
    if stats.max_length:
        figure.add_vline(
            x=stats.max_length,
            line_color="#dc2626",
            line_dash="dash",
            annotation_text=f"max length {stats.max_length}: {stats.truncated} of {len(stats.lengths)} cut",
            annotation_position="top right" if stats.truncated else "top left",
        )
    figure.update_layout(
        title=title,
        xaxis_title=f"length ({stats.unit})",
        yaxis_title="examples",
        height=320,
        margin=dict(l=50, r=20, t=50, b=40),
        bargap=0.05,
        showlegend=False,
    )
    return figure
