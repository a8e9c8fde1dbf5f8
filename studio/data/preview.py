"""What the Data tab and ``python -m studio data preview`` show: rows, rendered text, masks, lengths."""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.data.dataset import LoadedData
from studio.data.render import render_chat, render_row, segments
from studio.data.stats import LengthStats, length_stats

PREVIEW_ROWS = (
    50  # the first rows a preview renders: the Data tab's Example slider reaches them (50 pairs take under a second)
)


@dataclass
class Example:
    row: int  # 1-based row number in the source
    text: str  # the exact training text under the chat template
    segments: list[tuple[str, bool]]  # (piece, carries loss)
    tokens: int
    trained_tokens: int
    truncated: bool
    rejected: list[tuple[str, bool]] = field(default_factory=list)  # a preference pair's other answer


@dataclass
class Preview:
    format: str
    kind: str
    num_rows: int
    columns: list[str]
    fingerprint: str
    examples: list[Example] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lengths: LengthStats | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "format": self.format,
            "kind": self.kind,
            "num_rows": self.num_rows,
            "columns": self.columns,
            "fingerprint": self.fingerprint,
            "skipped": self.skipped,
            "notes": self.notes,
            "lengths": self.lengths.to_json() if self.lengths else None,
            "examples": [e.text for e in self.examples],
            "example_details": [
                {"row": e.row, "tokens": e.tokens, "trained_tokens": e.trained_tokens, "truncated": e.truncated}
                | ({"rejected": "".join(p for p, _ in e.rejected)} if e.rejected else {})
                for e in self.examples
            ],
        }


def _rejected(tokenizer, row: dict, max_length: int | None, assistant_only: bool) -> list[tuple[str, bool]]:
    """The rejected answer of a preference pair as rendered after its prompt (the prompt left out)."""
    if "rejected" not in row:
        return []
    parts = segments(tokenizer, render_chat(tokenizer, row["prompt"] + row["rejected"], max_length, assistant_only))
    return parts[1:] if parts and not parts[0][1] else parts


def preview(
    data: LoadedData,
    tokenizer,
    max_length: int | None = None,
    n: int = PREVIEW_ROWS,
    assistant_only: bool = True,
    measure: bool = True,
) -> Preview:
    """The first ``n`` examples as training sees them; ``measure`` adds the token lengths of the rows."""
    examples = []
    for row, number in list(zip(data.rows, data.row_numbers, strict=True))[:n]:
        rendered = render_row(tokenizer, row, max_length, assistant_only)
        examples.append(
            Example(
                number,
                tokenizer.decode(rendered.input_ids),
                segments(tokenizer, rendered),
                len(rendered.input_ids),
                rendered.trained_tokens,
                rendered.truncated,
                _rejected(tokenizer, row, max_length, assistant_only),
            )
        )
    return Preview(
        data.format,
        data.kind,
        len(data.rows),
        data.columns,
        data.fingerprint,
        examples,
        [str(e) for e in data.skipped[:20]],
        length_stats(tokenizer, data.rows, max_length) if measure else None,
        list(data.notes),
    )
