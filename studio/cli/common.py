"""Small pieces every command shares: error reporting, JSON output, and finding a run.

A user error (bad input, a refused run, a file that cannot be read or written) is reported as
one line per problem, ``error: <field>: <what is wrong and the fix>``, and never with a
traceback: that is kept for bugs, which no command catches.

A run (``--run``, ``--resume``) is an id or a path inside the runs folder (``--runs-dir``, else
$STUDIO_RUNS_DIR, else ./runs), the same rule the app keeps: a folder anywhere else is refused
with the same words whether it exists or not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from studio.paths import runs_root
from studio.runs.directory import open_run
from studio.schema import ConfigError


def error_lines(exc: Exception) -> list[str]:
    """One line per problem; a message's own line breaks (e.g. a YAML parser's) are folded."""
    if isinstance(exc, ConfigError):
        lines = [f"{problem.field}: {problem.message}" for problem in exc.problems]
    elif isinstance(exc, OSError) and exc.filename:
        lines = [f"{exc.filename}: {exc.strerror or exc}"]
    else:
        lines = [str(exc) or type(exc).__name__]
    return ["error: " + " ".join(line.split()) for line in lines]


def fail(exc: Exception, code: int = 2) -> int:
    """Print a service error as the user should read it: what is wrong and the fix."""
    for line in error_lines(exc):
        print(line, file=sys.stderr)
    return code


def print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


def add_runs_dir(parser) -> None:
    parser.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="The runs folder a run id or path must be in (default: $STUDIO_RUNS_DIR or ./runs).",
    )


def runs_folder(runs_dir: str | None) -> Path:
    return Path(runs_dir) if runs_dir else runs_root()


def open_cli_run(ref: str, runs_dir: str | None):
    """The run ``ref`` names inside the runs folder; ValueError (one line, where runs live) otherwise."""
    root = runs_folder(runs_dir)
    try:
        return open_run(ref, root)
    except ValueError:
        raise ValueError(
            f"run: {ref} is not a run in the runs folder; runs live in {root.absolute()} "
            "(list them with `python -m studio runs`), or give --runs-dir DIR"
        ) from None
