"""``python -m studio eval --run RUN_DIR``: base versus adapter on the run's held-out rows.

    python -m studio eval --run runs/<id>                 # a table; results saved to runs/<id>/eval.json
    python -m studio eval --run runs/<id> --json          # {"base": {"perplexity": ...}, "adapter": {...}, ...}
    python -m studio eval --run runs/<id> --train-sample 32   # a run without a validation split
    python -m studio eval --run runs/<id> --adapter runs/<id>/checkpoints/checkpoint-20

Perplexity for every run; ROUGE-L, BLEU and exact match of greedy answers for SFT runs;
preference accuracy and reward margins for DPO runs. Generations go to eval_generations.csv.
"""

from __future__ import annotations

import argparse

from studio.cli.common import add_runs_dir, fail, open_cli_run, print_json, runs_folder
from studio.evaluate.options import EvalOptions
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
    p.set_defaults(func=run)


def run(args) -> int:
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
