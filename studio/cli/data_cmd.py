"""``python -m studio data preview|clean|generate|pairs``: see what the model trains on; save a cleaned
copy; make rows and preference pairs with models (studio.cli.generate_cmd).

    python -m studio data preview data.jsonl --model smollm2-135m-instruct --max-length 512 --json
    python -m studio data clean data.jsonl --out clean.jsonl --dedup exact,near --max-tokens 1024 \\
        --exclude "As an AI" "I cannot" --val-fraction 0.1 --json

preview prints the format, the row count, the token lengths and the first examples exactly as
rendered for training (with --json: an object with ``format``, ``num_rows``, ``examples``...).
clean writes OUT.jsonl (and OUT.val.jsonl, OUT.report.json) and prints what each step removed
(with --json: ``kept``, ``removed`` as reason -> count, ``fingerprint``, ``files``...).

Exit codes: 0 done; 1 done, but some rows could not be used (they are listed, and clean leaves
them out; --skip-invalid accepts that with exit 0); 2 bad input, nothing done.
"""

from __future__ import annotations

import argparse
import json
import sys

from studio.cli import generate_cmd
from studio.cli.common import fail, print_json
from studio.config import EMBEDDED_MODEL, FORMAT_CHOICES, RunConfig
from studio.data import load_data
from studio.data.clean import CleanOptions, clean, save
from studio.schema import ConfigError, add_arguments, apply_overrides


def register(sub) -> None:
    p = sub.add_parser(
        "data",
        help="Preview a dataset as the model sees it, clean it, or generate rows and pairs with models.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    preview = actions.add_parser("preview", help="Format, rows, token lengths and the exact training text.")
    _common(preview)
    preview.add_argument("--max-length", type=int, default=RunConfig().train.max_length, help="Max length in tokens.")
    preview.add_argument("--examples", type=int, default=3, metavar="N", help="How many examples to show.")
    preview.set_defaults(func=run_preview)
    clean = actions.add_parser("clean", help="Remove bad rows and duplicates; save a fingerprinted JSONL.")
    _common(clean)
    clean.add_argument("--out", required=True, metavar="OUT.jsonl", help="Where the cleaned rows go.")
    add_arguments(clean.add_argument_group("cleaning steps (one flag per CleanOptions field)"), CleanOptions)
    clean.set_defaults(func=run_clean)
    generate_cmd.add_actions(actions)  # generate, pairs: data from models


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="A JSON, JSONL, CSV or Parquet file, or a Hub id 'org/name[:split]'.")
    p.add_argument("--format", default="auto", choices=FORMAT_CHOICES, help="Data format (default: detected).")
    p.add_argument("--columns", default="", help="Column mapping, e.g. instruction=question,output=answer.")
    p.add_argument("--system", default="", help="System prompt for rows without one.")
    p.add_argument("--model", default=EMBEDDED_MODEL, help="Model whose tokenizer and chat template render the rows.")
    p.add_argument("--json", action="store_true", help="Print one JSON object.")
    p.add_argument("--skip-invalid", action="store_true", help="Exit 0 even when some rows cannot be used.")


def _options(args) -> CleanOptions:
    options = CleanOptions()
    apply_overrides(options, vars(args))
    options.check()
    return options


def _load(args):
    from studio.models.loading import load_tokenizer  # lazy: cli-startup

    data = load_data(args.path, args.format, args.columns, args.system)
    return data, load_tokenizer(args.model)


def _warn_skipped(data, args) -> int:
    for error in data.skipped[:20]:
        print(f"warning: {error}", file=sys.stderr)
    if len(data.skipped) > 20:
        print(f"warning: ... and {len(data.skipped) - 20} more unusable rows", file=sys.stderr)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    return 1 if data.skipped and not args.skip_invalid else 0


def _failed(exc: Exception, args) -> int:
    if args.json:
        print(json.dumps({"error": str(exc)}))
    return fail(exc)


def run_preview(args) -> int:
    from studio.data.preview import preview  # lazy: cli-startup

    try:
        data, tokenizer = _load(args)
        shown = preview(data, tokenizer, args.max_length, args.examples)
    except ValueError as exc:
        return _failed(exc, args)
    code = _warn_skipped(data, args)
    if args.json:
        print_json(shown.to_json())
        return code
    print(data.summary() + f". Fingerprint {shown.fingerprint}.")
    print(shown.lengths.describe().replace("**", ""))
    green = "\033[32m" if sys.stdout.isatty() else ""
    for example in shown.examples:
        print(f"\n--- row {example.row}: {example.tokens} tokens, {example.trained_tokens} carry loss ---")
        print("".join(f"{green}{p}\033[0m" if trained and green else p for p, trained in example.segments))
        if not green:
            print("--- carry loss: " + " | ".join(p.strip() for p, trained in example.segments if trained))
    return code


def run_clean(args) -> int:
    try:
        options = _options(args)
        data, tokenizer = _load(args)
        result = clean(data, options, tokenizer)
        files = save(result, args.out)
    except (ConfigError, ValueError) as exc:
        return _failed(exc, args)
    code = _warn_skipped(data, args)
    report = result.to_json() | {"files": files}
    if args.json:
        print_json(report)
        return code
    for step in result.steps:
        changed = f", {step.modified} modified" if step.modified else ""
        print(f"{step.name:>16}: {step.removed} removed{changed}")
        for example in step.examples[:3]:
            print(f"{'':>18}row {example['row']}: {example['reason']}  {example['text'][:100]}")
        if step.embedder:
            print(f"{'':>18}embedded by {step.embedder}; groups (first kept):")
        for group in step.groups:
            print(f"{'':>18}" + " ~ ".join(f"row {m['row']} {m['text'][:40]!r}" for m in group))
    print(f"kept {result.kept} of {result.input_rows} rows ({len(result.train)} train, {len(result.val)} validation)")
    print(f"fingerprint {result.fingerprint}")
    for name, path in files.items():
        print(f"{name}: {path}")
    return code
