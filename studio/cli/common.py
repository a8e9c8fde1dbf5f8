"""Small pieces every command shares: error reporting and JSON output.

A user error (bad input, a refused run, a file that cannot be read or written) is reported as
one line per problem, ``error: <field>: <what is wrong and the fix>``, and never with a
traceback: that is kept for bugs, which no command catches.
"""

from __future__ import annotations

import json
import sys

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
