"""Small pieces every command shares: error reporting and JSON output."""

from __future__ import annotations

import json
import sys

from studio.schema import ConfigError


def fail(exc: Exception, code: int = 2) -> int:
    """Print a service error as the user should read it: what is wrong and the fix."""
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"error: {problem.field}: {problem.message}", file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)
    return code


def print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))
