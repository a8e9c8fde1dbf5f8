"""``python -m studio export`` and ``python -m studio push``: a run as files others can use.

    python -m studio export --run runs/<id> --out exports/tuned                 # adapter + README.md
    python -m studio export --run runs/<id> --out exports/tuned --zip           # ... and exports/tuned.zip
    python -m studio export --run runs/<id> --out exports/merged --merged --dtype bf16
    python -m studio export --run runs/<id> --out exports/gguf --gguf q8_0      # GGUF + Ollama Modelfile
    HF_TOKEN=hf_... python -m studio push --run runs/<id> --repo me/tuned            # private by default
    HF_TOKEN=hf_... python -m studio push --run runs/<id> --repo me/tuned --merged --update --no-private
    HF_TOKEN=hf_... python -m studio push --run runs/<id> --repo me/tuned-GGUF --gguf q8_0  # GGUF + Modelfile

Progress goes to stderr; the folder (export) or the repository URL (push) is printed last.
Exit status: 0 done, 1 done but a check failed, 2 nothing done (bad input, token, network).
The token is read from HF_TOKEN (or a saved ``hf auth login``), never from the command line,
so it stays out of shell history and process lists. The options (--dtype, --merged, --private,
--update, --verify, --gguf) are the fields of ``studio.config.ExportConfig``, as in the Export tab.
With --gguf the folder holds the checked GGUF file, a Modelfile and gguf_check.json (the merge
inside is at fp32 whatever --dtype says); a file that fails its check is not written.
``push --gguf TYPE`` sends the run's checked GGUF export (runs/<id>/export/gguf-TYPE, the Export
tab's; written and checked first when missing), its Modelfile and a card with the llama.cpp and
Ollama commands to a repository of its own; a file that failed or changed since is never sent.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from studio.cli.common import add_runs_dir, fail, open_cli_run, print_json
from studio.config import ExportConfig
from studio.export.destination import prepare_zip
from studio.schema import ConfigError, add_arguments, apply_overrides, bounds_problems


def register(sub) -> None:
    e = sub.add_parser(
        "export",
        help="Save a run's adapter (optionally zipped) or the merged full model, with a model card.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument(
        "--run", metavar="RUN_DIR", required=True, help="A run id, or a run directory inside the runs folder."
    )
    add_runs_dir(e)
    e.add_argument(
        "--out", metavar="DIR", required=True, help="The folder to write: new, empty, or an earlier export's."
    )
    add_arguments(e, ExportConfig, only=["dtype", "merged", "gguf"])
    e.add_argument("--merge", dest="merged", action="store_true", help=argparse.SUPPRESS)  # the older spelling
    e.add_argument("--zip", action="store_true", help="Also write DIR.zip next to the folder.")
    e.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace an earlier export in --out (and its zip); a folder no export made is never emptied.",
    )
    e.add_argument("--json", action="store_true", help="Print the merge report as JSON.")
    e.set_defaults(func=run_export)

    p = sub.add_parser(
        "push",
        help="Push a run's adapter or merged model to the Hugging Face Hub (token from HF_TOKEN).",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--run", metavar="RUN_DIR", required=True, help="A run id, or a run directory inside the runs folder."
    )
    add_runs_dir(p)
    p.add_argument("--repo", metavar="ID", required=True, help="Repository: 'name' (under your user) or 'org/name'.")
    add_arguments(p, ExportConfig, only=[f.name for f in fields(ExportConfig)])
    p.add_argument("--json", action="store_true", help="Print the result as JSON.")
    p.set_defaults(func=run_push)


def options(args) -> ExportConfig:
    """The ExportConfig the flags describe (unset flags keep the defaults); ConfigError names a bad one."""
    config = ExportConfig()
    apply_overrides(config, vars(args))
    if problems := bounds_problems(config):
        raise ConfigError(problems)
    return config


def _progress(fraction: float, message: str) -> None:
    print(f"[{100 * fraction:3.0f}%] {message}", file=sys.stderr, flush=True)


def run_export(args) -> int:
    from studio.export import merge  # lazy: cli-startup

    try:
        o = options(args)
        run = open_cli_run(args.run, args.runs_dir)
        out = Path(args.out).expanduser()
        zip_path = prepare_zip(out.parent / f"{out.name}.zip", args.overwrite) if args.zip else None
        if o.gguf != "none":
            folder = _export_gguf(run, args, o.gguf)
        elif o.merged:
            report = merge.merge(run, args.out, o.dtype, overwrite=args.overwrite, progress=_progress)
            folder = report.folder
            if args.json:
                print_json(report.to_dict())
            for warning in report.warnings:
                print(f"warning: {warning}", file=sys.stderr)
        else:
            folder = merge.export_adapter(run, args.out, overwrite=args.overwrite)
        if zip_path is not None:
            zipped = merge.zip_folder(Path(folder), zip_path)
            print(f"zip: {zipped}", file=sys.stderr)
    except ValueError as exc:
        return fail(exc)
    print(folder)
    return 0


def _export_gguf(run, args, gguf_type: str) -> str:
    from studio.export.gguf import export_gguf  # lazy: cli-startup

    report = export_gguf(run, args.out, gguf_type, overwrite=args.overwrite, progress=_progress)
    if args.json:
        print_json(report.to_dict())
    check = report.check
    print(
        f"check: read back with transformers, max logit difference {check['max_logit_diff']:.4g}, "
        f"KL {check['kl']:.2g} nats (tolerance {check['tolerance']:g}), greedy agreement {check['greedy_agreement']}",
        file=sys.stderr,
    )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return str(Path(report.file).parent)


def run_push(args) -> int:
    from studio.export import gguf_hub  # lazy: cli-startup

    try:
        o = options(args)
        result = gguf_hub.push(open_cli_run(args.run, args.runs_dir), args.repo, options=o, progress=_progress)
    except ValueError as exc:
        return fail(exc)
    if args.json:
        print_json(result.to_dict())
    check = result.check
    if check:
        print(f"check: {check['message']}", file=sys.stderr)
    print(result.url)
    return 1 if check and not check.get("ok") else 0
