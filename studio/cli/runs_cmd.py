"""``python -m studio runs``: the run history, newest first (``--json`` for scripts)."""

from __future__ import annotations

from studio.cli.common import print_json
from studio.runs.directory import list_runs


def register(sub) -> None:
    p = sub.add_parser("runs", help="List runs with their status and metrics.", description=__doc__)
    p.add_argument("--runs-dir", metavar="DIR", help="The runs root (default: $STUDIO_RUNS_DIR or ./runs).")
    p.add_argument("--json", action="store_true", help="Print JSON.")
    p.set_defaults(func=run)


def run(args) -> int:
    rows = [r.summary() for r in list_runs(args.runs_dir)]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no runs yet")
    for row in rows:
        loss = f"loss {row['last_loss']}" if row["last_loss"] is not None else ""
        print(f"{row['run']:<60} {row['status']:<12} step {row['step']:<6} {loss}")
    return 0
