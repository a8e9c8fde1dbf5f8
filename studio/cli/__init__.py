"""The command line over the same services the app uses.

    python -m studio train configs/quick_lora_sft.yaml     # train headless, print the run dir last
    python -m studio chat --run runs/<id> --prompt "Hi"    # one reply from the adapter (--base: the base)
    python -m studio runs                                  # the run history
    python -m studio model prepare                         # convert the embedded model once

Commands import the services inside their functions (``# lazy: cli-startup``), so that
`python -m studio --help` lists them without loading torch, transformers or TRL
(tests/test_layers.py, test_cli_help_loads_no_model_library).

Each command lives in its own module with a ``register(subparsers)`` that adds its parser and
sets ``func``; ``func(args)`` returns the exit code (0 ok, 1 failed, 2 bad input):

- ``train_cmd``: ``train``, headless training (a config file and flags, ``--resume``, ``--on``);
- ``chat_cmd``: ``chat``, one reply from a run's adapter or the base;
- ``runs_cmd``: ``runs``, the run history;
- ``model_cmd``: ``model prepare`` (convert the embedded model once) and ``model families``;
- ``data_cmd``: ``data preview`` and ``data clean``; ``generate_cmd``: ``data generate`` and
  ``data pairs`` (data from models), added to the data command's actions;
- ``estimate_cmd``: ``estimate``, parameters and memory before a run starts (``--measure`` also
  trains a few steps and measures the peak);
- ``eval_cmd``: ``eval``, base versus adapter on held-out rows, benchmarks and LLM judges;
- ``export_cmd``: ``export`` (adapter, merged, GGUF) and ``push`` (the Hub);
- ``bench_cmd``: ``bench``, the benchmark report;
- ``common``: what every command shares (one line per user error, JSON output, finding a run).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings

from studio.cli.common import fail
from studio.data.access import read_anywhere
from studio.models.noise import drop_known_noise
from studio.paths import runs_root
from studio.train.trackers import point_trackio

# One module per command (a module may register several: export_cmd registers export and push).
COMMANDS = ["train", "chat", "runs", "model", "data", "estimate", "eval", "export", "bench"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description="Fine-tuning Studio, headless.")
    parser.add_argument("-v", "--verbose", action="store_true", help="Show library logs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"studio.cli.{name}_cmd").register(sub)
    return parser


def quiet_libraries() -> None:
    """Progress bars and advisory warnings of the libraries would drown the command's output."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    warnings.filterwarnings("ignore")
    try:
        import datasets  # lazy: cli-startup - datasets and transformers load in seconds; only a command that runs needs them quiet

        datasets.disable_progress_bars()
    except ImportError:
        pass
    try:
        from transformers.utils import logging as hf_logging  # lazy: cli-startup

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def main(argv: list[str] | None = None) -> int:
    drop_known_noise()  # before any command imports a model library
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    if getattr(args, "runs_dir", None):  # one runs folder for the whole process (studio.runs.directory)
        os.environ["STUDIO_RUNS_DIR"] = os.path.abspath(args.runs_dir)

    point_trackio(runs_root())  # before TRL, which imports Trackio, which reads its folder then
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if args.verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(console)
    logging.getLogger().setLevel(logging.INFO)  # run logs (train.log) keep INFO; the console shows less
    if not args.verbose:
        quiet_libraries()
    # A command runs with its user's rights: it reads any dataset or model path the system lets
    # them read. The app keeps its folders (studio.data.access), and this is undone for it below.
    read_anywhere(True)
    try:
        return int(args.func(args) or 0)
    except OSError as exc:  # a file or folder the user named cannot be read or written: no traceback
        return fail(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        read_anywhere(False)
