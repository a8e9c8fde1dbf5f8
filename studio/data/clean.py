"""Clean a dataset step by step; each step reports what it removed, with examples.

    python -m studio data clean data.jsonl --out clean.jsonl --dedup exact,near --max-tokens 1024

    from studio.data.clean import CleanOptions, clean, save
    result = clean(load_data("data.jsonl"), CleanOptions(dedup=["exact", "near"]), tokenizer)
    result.removed            # {"special_tokens": 0, "empty": 3, "exact_duplicate": 12, ...}
    save(result, "clean.jsonl")

The steps run in this order: template-token leakage (drop or strip), empty answers, excluded
keywords, length bounds, exact duplicates, near duplicates; then the seeded train/validation
split. The cleaned rows are canonical (studio.data.formats), so the saved JSONL reads back
into the same rows, and its fingerprint is the one a run on it records.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio.data import dedup
from studio.data.clean_options import CleanOptions
from studio.data.dataset import LoadedData, fingerprint, save_jsonl, split
from studio.data.rowtext import answers, fields, map_texts, preview_text, row_text
from studio.data.stats import char_lengths, token_lengths
from studio.paths import cleaned_dir

# Markers of the common chat templates. Inside a row's text they would be read as real turn
# boundaries (tokenizers parse special tokens out of plain text), so the model learns broken turns.
TEMPLATE_TOKENS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_sep|>",
    "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<s>", "</s>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>",
    "<|user|>", "<|assistant|>", "<|system|>", "<|end|>",
]  # fmt: skip
EXAMPLES = 5


@dataclass
class Step:
    name: str  # the key in CleanResult.removed
    removed: int = 0
    modified: int = 0  # rows changed but kept (stripped tokens)
    examples: list[dict] = field(default_factory=list)  # {"row", "reason", "text"}
    groups: list[list[dict]] = field(default_factory=list)  # semantic dedup: a few groups, kept row first
    embedder: str = ""  # semantic dedup: the model that embedded the rows

    def note(self, number: int, reason: str, row: dict) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append({"row": number, "reason": reason, "text": preview_text(row)})


@dataclass
class CleanResult:
    source: str
    format: str
    kind: str
    input_rows: int
    steps: list[Step]
    train: list[dict]
    val: list[dict]
    train_numbers: list[int]  # source row of each kept row
    val_numbers: list[int]
    options: CleanOptions

    @property
    def kept(self) -> int:
        return len(self.train) + len(self.val)

    @property
    def removed(self) -> dict[str, int]:
        return {s.name: s.removed for s in self.steps}

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.train)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "format": self.format,
            "input_rows": self.input_rows,
            "kept": self.kept,
            "removed": self.removed,
            "modified": {s.name: s.modified for s in self.steps if s.modified},
            "train_rows": len(self.train),
            "val_rows": len(self.val),
            "fingerprint": self.fingerprint,
            "val_fingerprint": fingerprint(self.val) if self.val else None,
            "steps": [asdict(s) for s in self.steps],
            "options": asdict(self.options),
        }


Items = list[tuple[int, dict]]  # (source row number, canonical row)


def _filter(items: Items, step: Step, verdict) -> Items:
    """Keep the items for which ``verdict(row)`` gives no reason to drop them."""
    kept = []
    for number, row in items:
        reason = verdict(row)
        if reason:
            step.removed += 1
            step.note(number, reason, row)
        else:
            kept.append((number, row))
    return kept


def template_tokens(tokenizer=None) -> list[str]:
    """The common template markers, plus the special tokens of the model's own tokenizer."""
    tokens = set(TEMPLATE_TOKENS)
    if tokenizer is not None:
        tokens |= set(tokenizer.all_special_tokens)
        tokens |= {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
    return sorted((t for t in tokens if t and t.strip()), key=lambda t: (-len(t), t))


def _leakage(items: Items, mode: str, tokens: list[str], step: Step) -> Items:
    pattern = re.compile("|".join(map(re.escape, tokens)))
    out = []
    for number, row in items:
        found = sorted({m.group() for _, text in fields(row) for m in pattern.finditer(text)})
        if not found:
            out.append((number, row))
        elif mode == "drop":
            step.removed += 1
            step.note(number, "contains " + ", ".join(found), row)
        else:
            step.modified += 1
            step.note(number, "stripped " + ", ".join(found), row)
            out.append((number, map_texts(row, lambda t: pattern.sub("", t))))
    return out


def _empty(row: dict) -> str:
    texts = answers(row)
    if not texts:
        return "no answer"
    if any(not t.strip() for t in texts):
        return "empty text" if "text" in row else "empty answer"
    return ""


def _keywords(words: list[str]):
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)

    def verdict(row: dict) -> str:
        match = pattern.search(row_text(row))
        return f"contains {match.group()!r}" if match else ""

    return verdict


def _length(items: Items, o: CleanOptions, tokenizer, steps: list[Step]) -> Items:
    for unit, low, high in (("tokens", o.min_tokens, o.max_tokens), ("chars", o.min_chars, o.max_chars)):
        if low is None and high is None:
            continue
        if unit == "tokens" and tokenizer is None:
            raise ValueError("min_tokens/max_tokens: counting tokens needs the model's tokenizer; pick a model")
        rows = [row for _, row in items]
        lengths = token_lengths(tokenizer, rows) if unit == "tokens" else char_lengths(rows)
        short, long_ = Step(f"min_{unit}"), Step(f"max_{unit}")
        kept = []
        for (number, row), n in zip(items, lengths, strict=True):
            if low is not None and n < low:
                short.removed += 1
                short.note(number, f"{n} {unit} < {low}", row)
            elif high is not None and n > high:
                long_.removed += 1
                long_.note(number, f"{n} {unit} > {high}", row)
            else:
                kept.append((number, row))
        items = kept
        steps += [step for step, bound in ((short, low), (long_, high)) if bound is not None]
    return items


def _duplicates(items: Items, o: CleanOptions, steps: list[Step]) -> Items:
    methods = tuple(m for m in ("exact", "near") if m in o.dedup)
    found = dedup.dedup_rows([row for _, row in items], methods, o.near_threshold)
    gone = set()
    for method in methods:
        step = Step(f"{method}_duplicate")
        for i, match in sorted(found[method].items()):
            j, similarity = match if method == "near" else (match, 1.0)
            reason = (
                f"same as row {items[j][0]}"
                if method == "exact"
                else f"near row {items[j][0]} (Jaccard ~{similarity:.2f})"
            )
            step.removed += 1
            step.note(items[i][0], reason, items[i][1])
            gone.add(i)
        steps.append(step)
    items = [item for i, item in enumerate(items) if i not in gone]
    return _semantic(items, o, steps) if "semantic" in o.dedup else items


def _semantic(items: Items, o: CleanOptions, steps: list[Step]) -> Items:
    """Rows that mean the same as an earlier one, after exact and near dedup (studio.data.semantic)."""
    from studio.data import semantic  # lazy: cli-startup - sentence-transformers loads torch

    texts = [dedup.content_text(row) for _, row in items]
    groups, dropped, embedder = semantic.semantic_groups(
        texts, o.semantic_threshold, semantic.open_embedder(o.semantic_model)
    )
    step = Step("semantic_duplicate", embedder=embedder.name)
    for i, (j, cosine) in sorted(dropped.items()):
        step.removed += 1
        step.note(items[i][0], f"means the same as row {items[j][0]} (cosine {cosine:.2f})", items[i][1])
    step.groups = [
        [{"row": items[i][0], "text": preview_text(items[i][1])} for i in group[:EXAMPLES]]
        for group in groups[:EXAMPLES]
    ]
    steps.append(step)
    return [item for i, item in enumerate(items) if i not in dropped]


def clean(data: LoadedData, options: CleanOptions | None = None, tokenizer=None) -> CleanResult:
    """Run every enabled step over the loaded rows; ``tokenizer`` counts tokens and names its special tokens."""
    o = options or CleanOptions()
    o.check()
    items: Items = list(zip(data.row_numbers, data.rows, strict=True))
    steps: list[Step] = []
    if data.skipped:
        invalid = Step("invalid", removed=len(data.skipped))
        invalid.examples = [{"row": e.row, "reason": e.reason, "text": ""} for e in data.skipped[:EXAMPLES]]
        steps.append(invalid)
    if o.special_tokens != "keep":
        steps.append(Step("special_tokens"))
        items = _leakage(items, o.special_tokens, template_tokens(tokenizer), steps[-1])
    if o.drop_empty:
        steps.append(Step("empty"))
        items = _filter(items, steps[-1], _empty)
    if words := [w for w in o.exclude if w.strip()]:
        steps.append(Step("exclude"))
        items = _filter(items, steps[-1], _keywords(words))
    items = _length(items, o, tokenizer, steps)
    if o.dedup:
        items = _duplicates(items, o, steps)
    train, val = split(items, o.val_fraction, o.seed)
    return CleanResult(
        data.source,
        data.format,
        data.kind,
        len(data.rows) + len(data.skipped),
        steps,
        [row for _, row in train],
        [row for _, row in val],
        [n for n, _ in train],
        [n for n, _ in val],
        o,
    )


def companion_paths(out: str | Path) -> dict[str, Path]:
    """Where the validation rows and the report go, next to the cleaned file."""
    out = Path(out).expanduser()
    stem = out.name.removesuffix(".jsonl")
    return {"train": out, "val": out.with_name(stem + ".val.jsonl"), "report": out.with_name(stem + ".report.json")}


def save(result: CleanResult, out: str | Path) -> dict[str, str]:
    """Write the cleaned rows (JSONL), the validation rows when split off, and the report."""
    paths = companion_paths(out)
    if paths["train"].suffix != ".jsonl":
        raise ValueError(f"out: {paths['train'].name} should end in .jsonl (the cleaned rows are JSON lines)")
    if not result.train:
        raise ValueError("every row was removed; loosen the cleaning options (see the removed counts)")
    written = {"train": str(save_jsonl(result.train, paths["train"]))}
    paths["val"].unlink(missing_ok=True)
    if result.val:
        written["val"] = str(save_jsonl(result.val, paths["val"]))
    report = result.to_json() | {"files": written}
    paths["report"].write_text(json.dumps(report, indent=2, ensure_ascii=False))
    written["report"] = str(paths["report"])
    return written


def default_output(source: str, fingerprint_: str) -> Path:
    """A content-addressed place for a cleaning done in the app: the same result, the same file."""
    stem = Path(source).name.split(".")[0] or "dataset"
    return cleaned_dir() / f"{stem}-clean-{fingerprint_}.jsonl"
