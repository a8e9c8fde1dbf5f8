"""``python -m studio data generate|pairs``: data from models (studio.generate).

    python -m studio data generate --seed assets/sample_sft.jsonl --teacher smollm2 -n 20 --out gen.jsonl
    python -m studio data pairs --prompts assets/sample_sft.jsonl --base -k 4 --judge smollm2 --out pairs.jsonl
    python -m studio data pairs --prompts p.jsonl --run <id> -k 4 --reward-run <reward id> --out pairs.jsonl

TEACHER and JUDGE: a model id or folder (or alias, e.g. smollm2), a run's adapter folder, a .gguf
file (with llama-cpp-python), or an http(s):// base URL of an OpenAI-compatible server (its key
from OPENAI_API_KEY, never written). generate writes OUT (alpaca rows with teacher and seed_rows)
and OUT.report.json; pairs writes OUT (preference rows with their scores), OUT.kto.jsonl and
OUT.report.json. Both print a summary, or with --json the report. A teacher or judge that fails
part-way keeps what was made (exit 1, the error in the report).
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.cli.common import fail, open_cli_run, print_json, runs_folder
from studio.config import EMBEDDED_MODEL
from studio.generate.options import GenerateOptions, PairOptions
from studio.schema import ConfigError, add_arguments, apply_overrides


def add_actions(actions) -> None:
    g = actions.add_parser("generate", help="New instruction/answer rows from a teacher, cleaned against the seeds.")
    g.add_argument("--seed", dest="seed_file", required=True, metavar="FILE", help="Seed rows (any chat format).")
    g.add_argument("--teacher", required=True, help="Model id or folder, .gguf file, or http(s):// URL.")
    g.add_argument("-n", dest="n", type=int, default=None, help="How many new rows to ask for (same as --n).")
    g.add_argument("--out", required=True, help="Where to write the rows (JSONL).")
    g.add_argument("--json", action="store_true", help="Print the report as JSON.")
    add_arguments(g.add_argument_group("generation"), GenerateOptions)
    g.set_defaults(func=run_generate)

    p = actions.add_parser("pairs", help="Preference pairs: K sampled answers per prompt, best vs worst by a scorer.")
    p.add_argument("--prompts", required=True, metavar="FILE", help="Rows whose prompts are used (any format).")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--run", metavar="ID", help="Sample from this run's adapter (over its base).")
    who.add_argument(
        "--base", nargs="?", const=EMBEDDED_MODEL, metavar="MODEL", help="Sample from a base model (default: embedded)."
    )
    p.add_argument("--runs-dir", default=None, help="The runs folder (default: the studio's).")
    p.add_argument("-k", dest="k", type=int, default=None, help="Answers per prompt (same as --k).")
    p.add_argument("--judge", action="append", default=[], help="A judge (repeat for a jury); scores 1-10.")
    p.add_argument("--reward-run", metavar="ID", help="Score with this reward-model run instead of judges.")
    p.add_argument("--out", required=True, help="Where to write the pairs (JSONL).")
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    add_arguments(p.add_argument_group("pairs"), PairOptions)
    p.set_defaults(func=run_pairs)


def _rows(path: str) -> list[dict]:
    from studio.data import load_data  # lazy: cli-startup

    return load_data(path).rows


def _progress(done: int, total: int, message: str) -> None:
    print(f"[{done}/{total}] {message}", flush=True)


def run_generate(args) -> int:
    from studio.chat.backends import open_backend  # lazy: cli-startup
    from studio.generate.synthetic import generate  # lazy: cli-startup

    try:
        options = GenerateOptions()
        apply_overrides(options, vars(args))
        seeds = _rows(args.seed_file)
        result = generate(seeds, open_backend(args.teacher), options, None if args.json else _progress)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.rows))
        report = result.report() | {"out": str(out)}
        out.with_suffix(".report.json").write_text(json.dumps(report, indent=2))
    except (ConfigError, ValueError) as exc:
        return fail(exc)
    if args.json:
        print_json(report)
    else:
        print(f"kept {len(result.rows)} of {result.asked} generated rows; removed {report['removed'] or 'none'}")
        print(f"unparsed {len(result.unparsed)}; written to {out}")
        if result.error:
            print(f"error: {result.error}")
    return 1 if result.error else 0


def run_pairs(args) -> int:
    from studio.chat.backends import open_backend  # lazy: cli-startup
    from studio.generate.pairs import (  # lazy: cli-startup
        JuryScorer,
        RewardRunScorer,
        make_pairs,
        prompts_of,
        save_pairs,
    )

    try:
        options = PairOptions()
        apply_overrides(options, vars(args))
        if bool(args.judge) == bool(args.reward_run):
            raise ValueError(
                "score with judges (--judge, repeatable) or a reward-model run (--reward-run), one of them"
            )
        root = runs_folder(args.runs_dir)
        sampler = open_backend(str(open_cli_run(args.run, args.runs_dir).adapter_dir) if args.run else args.base)
        if args.reward_run:
            scorer = RewardRunScorer(open_cli_run(args.reward_run, args.runs_dir).path)
        else:
            scorer = JuryScorer([open_backend(j, engine=getattr(sampler, "engine", None), source_root=root)
                                 for j in args.judge])  # fmt: skip
        result = make_pairs(prompts_of(_rows(args.prompts)), sampler, scorer, options, None if args.json else _progress)
        files = save_pairs(result, args.out)
    except (ConfigError, ValueError) as exc:
        return fail(exc)
    if args.json:
        print_json(result.report() | {"files": files})
    else:
        print(f"{len(result.pairs)} pairs from {result.prompts} prompts ({result.below_margin} below the margin)")
        for name, path in files.items():
            print(f"{name}: {path}")
        if result.error:
            print(f"error: {result.error}")
    return 1 if result.error else 0
