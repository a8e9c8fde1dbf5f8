"""``python -m studio bench [--quick] [--json] [--only SECTION ...] [--write BENCHMARKS.md]``.

    python -m studio bench --json > bench.json          # every section, about 20-30 min on 2 CPU cores
    python -m studio bench --quick --json               # every section at a tiny size (CI: shape, not speed)

Runs every figure in one process on one machine, so ratios hold on noisy hardware.
"""

from __future__ import annotations

import argparse

from studio.cli.common import print_json


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="Measure speed and memory against the floor and the plain recipe.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="Every section at a tiny size (minutes; for CI).")
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="SECTION",
        help="Run only these sections (ceiling, sft, dpo, reward, orpo, kto, grpo, tokens, startup, chat, responsiveness, memory, data).",
    )
    p.add_argument(
        "--no-plain",
        action="store_true",
        help="Leave the plain TRL script out of sft and dpo. On a CPU without native bf16 it runs TRL's default "
        "bf16 autocast emulated, tens of minutes.",
    )
    p.add_argument(
        "--write", metavar="FILE", help="Also write the report as a Markdown table to FILE (e.g. BENCHMARKS.md)."
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from studio.bench import run as run_bench  # lazy: cli-startup
    from studio.bench.report import markdown  # lazy: cli-startup

    report = run_bench(quick=args.quick, only=args.only, plain=not args.no_plain)
    if args.write:
        with open(args.write, "w") as fh:
            fh.write(markdown(report))
    if args.json:
        print_json(report)
    else:
        print(markdown(report))
    failed = [name for name, value in report.items() if isinstance(value, dict) and "error" in value]
    return 1 if failed else 0
