"""``python -m studio eval --run RUN_DIR``: base versus adapter on the run's held-out rows.

    python -m studio eval --run runs/<id>                 # a table; results saved to runs/<id>/eval.json
    python -m studio eval --run runs/<id> --json          # {"base": {"perplexity": ...}, "adapter": {...}, ...}
    python -m studio eval --run runs/<id> --train-sample 32   # a run without a validation split
    python -m studio eval --run runs/<id> --adapter runs/<id>/checkpoints/checkpoint-20

    python -m studio eval --run runs/<id> --judge http://127.0.0.1:8000/v1 --judge HuggingFaceTB/SmolLM2-360M-Instruct
    python -m studio eval --run runs/<id> --judge judge.gguf --versus runs/<other>/adapter --json

Perplexity for every run; ROUGE-L, BLEU and exact match of greedy answers for SFT runs;
preference accuracy and reward margins for DPO runs. Generations go to eval_generations.csv.

With --judge (repeat it for a jury), LLM judges compare the adapter's answers with the base's on
the held-out prompts instead, each pair in both orders, and decide the chat arena's people's votes
to show how often they agree with people (studio.evaluate.judges). A JUDGE is a model id or folder,
a .gguf file (llama.cpp), or the http(s):// base URL of an OpenAI-compatible server (its key from
OPENAI_API_KEY, its model from ?model=NAME or OPENAI_MODEL). Verdicts go to judgements.jsonl.
"""

from __future__ import annotations

import argparse

from studio.cli.common import add_runs_dir, fail, open_cli_run, print_json, runs_folder
from studio.evaluate.options import EvalOptions, JudgeOptions
from studio.schema import add_arguments, apply_overrides


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="Evaluate a run's adapter against its base on the held-out rows.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--run", metavar="RUN_DIR", required=True, help="A run id, or a run directory inside the runs folder."
    )
    add_runs_dir(p)
    p.add_argument(
        "--adapter", metavar="DIR", help="An adapter folder to use instead of the run's final one (e.g. a checkpoint)."
    )
    p.add_argument("--json", action="store_true", help="Print the results as JSON (keys base and adapter).")
    add_arguments(p.add_argument_group("evaluation"), EvalOptions)
    add_judge_arguments(p)
    p.set_defaults(func=run)


def add_judge_arguments(p) -> None:

    group = p.add_argument_group("LLM judges")
    group.add_argument(
        "--judge",
        metavar="JUDGE",
        action="append",
        help="Judge base vs adapter with this model id or folder, .gguf file or http(s):// URL; repeat for a jury.",
    )
    group.add_argument(
        "--versus",
        metavar="DIR",
        help="With --judge: compare against this adapter or checkpoint (another run, same base) instead of the base.",
    )
    add_arguments(group, JudgeOptions)


def run(args) -> int:
    if args.judge:
        return run_judges(args)
    from studio.chat.engine import ChatEngine  # lazy: cli-startup
    from studio.evaluate.pipeline import evaluate_run  # lazy: cli-startup
    from studio.evaluate.report import results_table  # lazy: cli-startup

    try:
        options = EvalOptions()
        apply_overrides(options, vars(args))
        run_ = open_cli_run(args.run, args.runs_dir)
        engine = ChatEngine()
        engine.source_root = runs_folder(args.runs_dir)  # --adapter loads from runs only, as in the app
        result = evaluate_run(engine, run_, options, args.adapter)
    except ValueError as exc:
        return fail(exc)
    generations = result.pop("generations")
    if args.json:
        print_json(result)
        return 0
    for warning in result["warnings"]:
        print(f"warning: {warning}")
    print(f"{result['run']}: {result['method']}, {result['split']}, {result['rows']} rows, {result['seconds']} s")
    table = results_table(result)
    widths = [max(len(str(r[i])) for r in [table["headers"], *table["data"]]) for i in range(len(table["headers"]))]
    for row in [table["headers"], *table["data"]]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    if generations:
        print(f"{len(generations)} generations: {run_.path / 'eval_generations.csv'}")
    print(f"saved: {run_.path / 'eval.json'}")
    return 0


def run_judges(args) -> int:
    """``--judge``: the judges' win/tie/loss per judge and jury, then their agreement with people."""
    from studio.chat.engine import ChatEngine  # lazy: cli-startup
    from studio.evaluate.judge_report import people_note, people_rows, results_rows  # lazy: cli-startup
    from studio.evaluate.judges import judge_run  # lazy: cli-startup

    try:
        options = JudgeOptions()
        apply_overrides(options, vars(args))
        run_ = open_cli_run(args.run, args.runs_dir)
        engine = ChatEngine()
        engine.source_root = runs_folder(args.runs_dir)  # --adapter and --versus load from runs only
        summary = judge_run(engine, run_, args.judge, options, args.adapter, args.versus, int(args.train_sample or 0))
    except ValueError as exc:
        return fail(exc)
    if args.json:
        print_json(summary)
    else:
        print(
            f"{summary['sides'][1]} vs {summary['sides'][0]}: {summary['prompts']} held-out prompts, "
            f"each judged in both orders, {summary['seconds']} s"
        )
        _print_table(results_rows(summary))
        print(people_note(summary))
        if summary["people"]["judges"]:
            _print_table(people_rows(summary))
        print(f"verdicts: {run_.path / 'judgements.jsonl'}")
    if summary["stopped"]:
        return fail(ValueError(f"judging stopped: {summary['stopped']}; the verdicts before it are kept"))
    return 0


def _print_table(table: dict) -> None:
    rows = [table["headers"], *table["data"]]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(table["headers"]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
