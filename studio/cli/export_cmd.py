"""``python -m studio export`` and ``python -m studio push``: a run as files others can use.

    python -m studio export --run runs/<id> --out exports/tuned                 # adapter + README.md
    python -m studio export --run runs/<id> --out exports/tuned --zip           # ... and exports/tuned.zip
    python -m studio export --run runs/<id> --out exports/merged --merge --dtype bf16
    HF_TOKEN=hf_... python -m studio push --run runs/<id> --repo me/tuned --private
    HF_TOKEN=hf_... python -m studio push --run runs/<id> --repo me/tuned --merged --update

Progress goes to stderr; the folder (export) or the repository URL (push) is printed last.
Exit status: 0 done, 1 done but a check failed, 2 nothing done (bad input, token, network).
The token is read from HF_TOKEN (or a saved ``hf auth login``), never from the command line,
so it stays out of shell history and process lists.
"""

from __future__ import annotations

import argparse
import sys

from studio.cli.common import fail, print_json

DTYPES = ["fp32", "bf16", "fp16"]


def register(sub) -> None:
    e = sub.add_parser(
        "export",
        help="Save a run's adapter (optionally zipped) or the merged full model, with a model card.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("--run", metavar="RUN_DIR", required=True, help="A run directory (or id under the runs dir).")
    e.add_argument("--out", metavar="DIR", required=True, help="The folder to write (must be new or empty).")
    e.add_argument("--merge", action="store_true", help="Merge the adapter into the base and save the full model.")
    e.add_argument("--dtype", choices=DTYPES, default="bf16", help="Dtype of the merged model's weights.")
    e.add_argument("--zip", action="store_true", help="Also write DIR.zip next to the folder.")
    e.add_argument("--overwrite", action="store_true", help="Replace the contents of a non-empty --out.")
    e.add_argument("--json", action="store_true", help="Print the merge report as JSON.")
    e.set_defaults(func=run_export)

    p = sub.add_parser(
        "push",
        help="Push a run's adapter or merged model to the Hugging Face Hub (token from HF_TOKEN).",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", metavar="RUN_DIR", required=True, help="A run directory (or id under the runs dir).")
    p.add_argument("--repo", metavar="ID", required=True, help="Repository: 'name' (under your user) or 'org/name'.")
    p.add_argument("--private", action="store_true", help="Create the repository as private.")
    p.add_argument("--merged", action="store_true", help="Push the merged full model instead of the adapter.")
    p.add_argument("--dtype", choices=DTYPES, default="bf16", help="Dtype of the merged model's weights.")
    p.add_argument("--update", action="store_true", help="Push a new commit if the repository already exists.")
    p.add_argument("--no-verify", action="store_true", help="Skip downloading and re-loading what was pushed.")
    p.add_argument("--json", action="store_true", help="Print the result as JSON.")
    p.set_defaults(func=run_push)


def _progress(fraction: float, message: str) -> None:
    print(f"[{100 * fraction:3.0f}%] {message}", file=sys.stderr, flush=True)


def run_export(args) -> int:
    from studio.export import merge
    from studio.runs.directory import open_run

    try:
        run = open_run(args.run)
        if args.merge:
            report = merge.merge(run, args.out, args.dtype, overwrite=args.overwrite, progress=_progress)
            folder = report.folder
            if args.json:
                print_json(report.to_dict())
            for warning in report.warnings:
                print(f"warning: {warning}", file=sys.stderr)
        else:
            folder = merge.export_adapter(run, args.out, overwrite=args.overwrite)
        if args.zip:
            from pathlib import Path

            zipped = merge.zip_folder(Path(folder), Path(folder).with_suffix(".zip"))
            print(f"zip: {zipped}", file=sys.stderr)
    except ValueError as exc:
        return fail(exc)
    print(folder)
    return 0


def run_push(args) -> int:
    from studio.export import hub
    from studio.runs.directory import open_run

    try:
        run = open_run(args.run)
        result = hub.push_run(
            run,
            args.repo,
            private=args.private,
            merged=args.merged,
            dtype=args.dtype,
            update=args.update,
            verify=not args.no_verify,
            progress=_progress,
        )
    except ValueError as exc:
        return fail(exc)
    if args.json:
        print_json(result.to_dict())
    check = result.check
    if check:
        print(f"check: {check['message']}", file=sys.stderr)
    print(result.url)
    return 1 if check and not check.get("ok") else 0
