"""From a source to a clean, fingerprinted set of canonical rows, split for training.

from studio.data import load_data
data = load_data("assets/sample_sft.jsonl")           # format detected
data.kind, data.format, len(data.rows), data.fingerprint
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from studio.data.formats import EXPECTED, RowError, detect_format, kind_of, parse_column_mapping, to_canonical
from studio.data.sources import DataError, read_source


@dataclass
class LoadedData:
    source: str
    format: str
    kind: str  # "chat", "text" or "preference"
    rows: list[dict]  # canonical rows (see studio.data.formats)
    columns: list[str]
    raw_rows: list[dict] = field(repr=False, default_factory=list)
    skipped: list[RowError] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)  # 1-based source row of each kept row
    notes: list[str] = field(default_factory=list)  # harmless oddities fixed while reading

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rows)

    def summary(self) -> str:
        text = f"{len(self.rows)} rows, format {self.format}"
        if self.skipped:
            shown = ", ".join(str(e.row) for e in self.skipped[:10])
            text += f"; {len(self.skipped)} rows skipped (rows {shown}{'...' if len(self.skipped) > 10 else ''})"
        for note in self.notes:
            text += f"; {note}"
        return text


def fingerprint(rows: list[dict]) -> str:
    """A content hash of canonical rows: the same data gives the same fingerprint anywhere."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def apply_mapping(rows: list[dict], mapping: dict[str, str]) -> list[dict]:
    """Rename columns (source -> target); a mapped column replaces a same-named one."""
    if not mapping:
        return rows
    found = set().union(*(r.keys() for r in rows[:1000]))
    missing = sorted(set(mapping) - found)
    if missing:
        raise DataError(
            f"columns: {', '.join(missing)} not found; the file has {', '.join(sorted(found))}. "
            "Write the mapping as target=source, e.g. instruction=question"
        )
    replaced = set(mapping.values())
    return [
        {k: v for k, v in row.items() if k not in replaced and k not in mapping}
        | {mapping[k]: v for k, v in row.items() if k in mapping}
        for row in rows
    ]


def present_keys(row: dict) -> set[str]:
    """The keys a row fills: datasets gives every row every column of the file, absent ones None."""
    return {k for k, v in row.items() if v is not None}


def check_one_format(raw_rows: list[dict], source: str) -> str:
    """The format the rows share; a message naming the columns found, or the rows that differ.

    Rows that fit no format (say, an Alpaca row without its output) count with the others:
    converting them names what they lack. Rows that fit another format make the file mixed.
    """
    found: dict[str, list[int]] = {}
    for i, raw in enumerate(raw_rows, 1):
        fmt = detect_format(present_keys(raw))
        if fmt is not None:
            found.setdefault(fmt, []).append(i)
    if not found:
        columns = sorted(set().union(*(present_keys(r) for r in raw_rows[:1000])))
        raise DataError(
            f"{source}: no known format in columns {', '.join(columns) or '(none)'}. "
            f"Expected {EXPECTED}, or map your columns (e.g. instruction=question,output=answer)."
        )
    if len(found) == 1:
        return next(iter(found))
    parts = []
    for fmt, rows in sorted(found.items(), key=lambda kv: kv[1][0]):
        shown = ", ".join(map(str, rows[:5])) + ("..." if len(rows) > 5 else "")
        parts.append(f"{len(rows)} rows {fmt} (rows {shown})")
    raise DataError(
        f"{source} mixes formats: {'; '.join(parts)}. Keep one format per file, "
        "or choose the format to use and the rows that do not fit are skipped."
    )


def canonicalize(raw_rows: list[dict], fmt: str = "auto", system_prompt: str = "", source: str = "") -> LoadedData:
    """Detect (or take) the format and convert every row; unusable rows are listed, not fatal."""
    source = source or "dataset"
    if not raw_rows:
        raise DataError(f"{source} has no rows")
    columns = sorted(set().union(*(r.keys() for r in raw_rows[:1000])))
    if fmt == "auto":
        fmt = check_one_format(raw_rows, source)
    rows, numbers, skipped = [], [], []
    for i, raw in enumerate(raw_rows, 1):
        try:
            rows.append(to_canonical(raw, fmt, i, system_prompt))
            numbers.append(i)
        except RowError as exc:
            skipped.append(exc)
    if not rows:
        first = skipped[0] if skipped else None
        raise DataError(f"{source}: no usable rows as {fmt}; first problem: {first}")
    return LoadedData(source, fmt, kind_of(fmt), rows, columns, raw_rows, skipped, numbers)


def load_data(
    source: str,
    fmt: str = "auto",
    columns: str = "",
    system_prompt: str = "",
    max_rows: int | None = None,
    memory_bytes: int | None = None,
    user: str | None = None,
) -> LoadedData:
    """Read, map and convert a dataset ``user`` may read (None: the operator; studio.data.access);
    ``memory_bytes`` overrides the free memory, for tests."""
    read = read_source(source, max_rows, memory_bytes=memory_bytes, user=user)
    raw = apply_mapping(read.rows, parse_column_mapping(columns))
    data = canonicalize(raw, fmt, system_prompt, source)
    data.notes = read.notes
    return data


def save_jsonl(rows: list[dict], path: str | Path) -> Path:
    """Write canonical rows as JSON lines (they read back into the same rows and fingerprint)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def split(rows: list, val_fraction: float, seed: int) -> tuple[list, list]:
    """A seeded train/validation split; at least one validation row when a fraction is asked."""
    if val_fraction <= 0 or len(rows) < 2:
        return list(rows), []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = min(len(rows) - 1, max(1, round(len(rows) * val_fraction)))
    val_idx = set(order[:n_val])
    return [r for i, r in enumerate(rows) if i not in val_idx], [r for i, r in enumerate(rows) if i in val_idx]
