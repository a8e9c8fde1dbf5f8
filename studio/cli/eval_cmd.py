"""``python -m studio eval``: base versus adapter on the run's held-out rows, or on benchmarks.

    python -m studio eval --run runs/<id>                 # a table; results saved to runs/<id>/eval.json
    python -m studio eval --run runs/<id> --json          # {"base": {"perplexity": ...}, "adapter": {...}, ...}
    python -m studio eval --run runs/<id> --train-sample 32   # a run without a validation split
    python -m studio eval --run runs/<id> --adapter runs/<id>/checkpoints/checkpoint-20
    python -m studio eval --bench list [--all]            # benchmark tasks, the offline ones first
    python -m studio eval --run runs/<id> --bench studio_facts,arc_easy --limit 20 [--json]

    python -m studio eval --run runs/<id> --judge http://127.0.0.1:8000/v1 --judge HuggingFaceTB/SmolLM2-360M-Instruct
    python -m studio eval --run runs/<id> --judge judge.gguf --versus runs/<other>/adapter --json

Perplexity for every run; ROUGE-L, BLEU and exact match of greedy answers for SFT runs;
preference accuracy and reward margins for DPO runs. Generations go to eval_generations.csv.

With --judge (repeat it for a jury), LLM judges compare the adapter's answers with the base's on
the held-out prompts instead, each pair in both orders, and decide the chat arena's people's votes
to show how often they agree with people (studio.evaluate.judges). A JUDGE is a model id or folder,
a .gguf file (llama.cpp), or the http(s):// base URL of an OpenAI-compatible server (its key from
OPENAI_API_KEY, its model from ?model=NAME or OPENAI_MODEL). Verdicts go to judgements.jsonl.

``--bench`` scores base and adapter with EleutherAI's lm-evaluation-harness instead; results go
to benchmarks.json in the run, and Ctrl-C stops after the batch under way, keeping what finished.
"""

from __future__ import annotations

import argparse
import sys

from studio.cli.common import add_runs_dir, fail, open_cli_run, print_json, runs_folder
from studio.evaluate.bench_options import BenchOptions
from studio.evaluate.options import EvalOptions, JudgeOptions
from studio.schema import add_arguments, apply_overrides

BENCH_FLAGS = ["limit", "batch_size", "chat_template"]


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="Evaluate a run's adapter against its base on the held-out rows, or on benchmarks (--bench).",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", metavar="RUN_DIR", help="A run id, or a run directory inside the runs folder.")
    add_runs_dir(p)
    p.add_argument(
        "--adapter", metavar="DIR", help="An adapter folder to use instead of the run's final one (e.g. a checkpoint)."
    )
    p.add_argument("--json", action="store_true", help="Print the results as JSON (keys base and adapter).")
    add_arguments(p.add_argument_group("evaluation"), EvalOptions)
    bench = p.add_argument_group("benchmarks (lm-evaluation-harness)")
    bench.add_argument(
        "--bench",
        metavar="TASKS",
        help="Comma-separated benchmark tasks to score base and adapter on instead (offline: studio_facts, "
        "studio_arithmetic; standard, from the Hub: mmlu, hellaswag, arc_easy, gsm8k, truthfulqa_mc2, ...), "
        "or 'list' to print them.",
    )
    bench.add_argument("--all", action="store_true", help="With --bench list: every task name the harness knows.")
    add_arguments(bench, BenchOptions, only=BENCH_FLAGS)
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
    if args.bench == "list":
        return list_tasks(args.all, args.json)
    if not args.run:
        return fail(ValueError("run: give --run RUN_DIR (a run id or folder), or --bench list to see the tasks"))
    if args.bench:
        return run_bench(args)
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
    _print_table(results_table(result))
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
    widths = [max(len(str(r[i])) for r in [table["headers"], *table["data"]]) for i in range(len(table["headers"]))]
    for row in [table["headers"], *table["data"]]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def list_tasks(everything: bool, as_json: bool) -> int:
    from studio.evaluate.bench_tasks import catalogue  # lazy: cli-startup

    tasks = catalogue(everything)
    if as_json:
        print_json([{"name": t.name, "offline": t.offline, "about": t.about} for t in tasks])
        return 0
    for t in tasks:
        where = "offline" if t.offline else "hub"
        print(f"{t.name:<20} {where:<8} {t.about}".rstrip())
    if not everything:
        print("Any other task of lm-evaluation-harness runs by name too (--bench list --all prints them).")
    return 0


def run_bench(args) -> int:
    from studio.chat.engine import ChatEngine  # lazy: cli-startup
    from studio.evaluate.bench_job import BenchJob  # lazy: cli-startup
    from studio.evaluate.bench_report import bench_table  # lazy: cli-startup
    from studio.evaluate.bench_results import by_model  # lazy: cli-startup
    from studio.evaluate.bench_tasks import parse_tasks, resolve  # lazy: cli-startup
    from studio.evaluate.benchmarks import run_benchmarks  # lazy: cli-startup

    try:
        options = BenchOptions(tasks=parse_tasks(args.bench))
        apply_overrides(options, {k: v for k, v in vars(args).items() if k in BENCH_FLAGS})
        run_ = open_cli_run(args.run, args.runs_dir)
        resolve(options.tasks)
        engine = ChatEngine()
        engine.source_root = runs_folder(args.runs_dir)
    except ValueError as exc:
        return fail(exc)
    job = BenchJob()  # in a thread, so Ctrl-C can ask for a clean stop
    job.start(lambda progress, stop: run_benchmarks(engine, run_, options, args.adapter, progress, stop), run_.id)
    snap = _follow(job)
    if snap.status == "failed":
        return fail(ValueError(snap.error))
    result = snap.result
    if args.json:
        print_json({**result, **by_model(result["tasks"])})
        return 0
    print(f"{result['run']}: {', '.join(options.tasks)}, limit {options.limit or 'none'}, {result['seconds']} s")
    if result["stopped_at"]:
        print(result["stopped_at"])
    _print_table(bench_table(result["tasks"]))
    print(f"saved: {run_.path / 'benchmarks.json'}")
    return 0


def _follow(job):
    """Progress lines on stderr until the job ends; Ctrl-C asks it to stop and waits for that."""
    from studio.train.jobs.progress import duration  # lazy: cli-startup

    shown = ""
    while True:
        try:
            snap = job.wait(1.0)
        except KeyboardInterrupt:
            job.stop()
            print("stopping after the batch under way...", file=sys.stderr)
            continue
        if not snap.active:
            return snap
        line = f"{100 * snap.fraction:3.0f}% {snap.message}" + (f", {duration(snap.eta_s)} left" if snap.eta_s else "")
        if line != shown:
            print(line, file=sys.stderr)
            shown = line
