"""``python -m studio chat --run RUN_DIR --prompt TEXT``: print one reply, nothing else.

    python -m studio chat --run runs/<id> --prompt "Who are you?" --greedy
    python -m studio chat --run runs/<id> --prompt "Who are you?" --base --seed 1
    python -m studio chat --model smollm2-135m-instruct --prompt "Hi"     # no run: the base
    python -m studio chat --run runs/<id> --adapter runs/<id>/checkpoints/checkpoint-20 --prompt "Hi"

A run (and an --adapter) must be inside the runs folder (--runs-dir, $STUDIO_RUNS_DIR or ./runs).

A run trained with full fine-tuning answers with its whole saved model (a second model
beside the base); a LoRA run with its adapter switched into the base.

The same seed and options print the same reply every time, and the same reply the Chat tab
shows for that column.
"""

from __future__ import annotations

import argparse

from studio.chat.options import Sampling
from studio.cli.common import add_runs_dir, fail, open_cli_run, runs_folder
from studio.schema import add_arguments, apply_overrides


def register(sub) -> None:
    p = sub.add_parser(
        "chat",
        help="One reply from a run's adapter or its base.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", metavar="RUN_DIR", help="A run id, or a run directory inside the runs folder.")
    p.add_argument("--prompt", required=True, help="The user's message.")
    p.add_argument("--system", default="", help="A system prompt (default: the template's own).")
    p.add_argument("--base", action="store_true", help="Answer with the base model, the adapter disabled.")
    p.add_argument(
        "--adapter",
        metavar="DIR",
        help="A run's adapter (or full model) folder or checkpoint to use instead of the run's final one.",
    )
    add_runs_dir(p)
    p.add_argument("--model", help="Base model when no --run is given (default: the embedded model).")
    group = p.add_argument_group("sampling")
    add_arguments(group, Sampling)
    p.set_defaults(func=run)


def run(args) -> int:
    from studio.chat.engine import ChatEngine  # lazy: cli-startup
    from studio.models.loading import EMBEDDED_HUB_ID  # lazy: cli-startup

    try:
        sampling = Sampling()
        apply_overrides(sampling, vars(args))
        source = None
        base = args.model or EMBEDDED_HUB_ID
        if args.run:
            run_ = open_cli_run(args.run, args.runs_dir)
            base = run_.config().model.model
            if not args.base:
                source = args.adapter or str(run_.adapter_dir)
                if not args.adapter and not run_.has_adapter():
                    return fail(
                        ValueError(f"run {run_.id} has no saved adapter yet; use --base or a checkpoint with --adapter")
                    )
        elif args.adapter and not args.base:
            source = args.adapter
        messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
            {"role": "user", "content": args.prompt}
        ]
        engine = ChatEngine(base)
        engine.source_root = runs_folder(args.runs_dir)  # adapters load from runs only, as in the app
        print(engine.reply(messages, source, sampling))
    except ValueError as exc:
        return fail(exc)
    return 0
