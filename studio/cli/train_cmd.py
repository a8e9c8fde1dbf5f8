"""``python -m studio train CONFIG.yaml``: train headless, print progress, print the run dir last.

    python -m studio train configs/quick_lora_sft.yaml --max-steps 20 --learning-rate 1e-4
    python -m studio train --adapter qlora --lora-r 16          # no file: defaults plus flags
    python -m studio train --resume runs/<id>                   # continue from its last checkpoint
    python -m studio train run.yaml --on accelerate --strategy fsdp --num-processes 2   # the accelerate
    python -m studio train run.yaml --on ray --ray-address http://127.0.0.1:8265       # a Ray job
    accelerate launch --num_processes 2 -m studio train run.yaml   # the same, one process per GPU
    torchrun --nproc_per_node 2 -m studio train run.yaml           # CPU processes over gloo (tests)

Every field of the config has a flag (``--lora-r``, ``--batch-size``...) that overrides the file.
Ctrl-C stops at the next step and keeps a checkpoint and the adapter trained so far; so does
SIGTERM (a Space restarting, ``docker stop``), and the run then reads "interrupted" with the cause
(exit status 143). ``--resume`` takes a run id or a run directory inside the runs folder.

``--on accelerate`` writes the run's accelerate config (run/accelerate.yaml) and launches the
processes, ``--on ray`` submits a Ray job; either way this command then follows the run directory,
and Ctrl-C stops the run there. Under ``accelerate launch`` (or torchrun) the main process validates the config and creates the
run directory, then hands its path to the other processes; only the main one writes into it and
prints.
"""

from __future__ import annotations

import argparse
import os
import time

from studio.cli.common import fail, open_cli_run, runs_folder
from studio.config import RunConfig
from studio.schema import add_arguments, apply_overrides


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="Train from a YAML config (or defaults plus flags); prints the run directory last.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", help="A run config YAML (see configs/); omit it to start from the defaults.")
    p.add_argument("--resume", metavar="RUN_DIR", help="Resume a stopped or killed run from its last checkpoint.")
    p.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="Where run directories are created and --resume finds them (default: $STUDIO_RUNS_DIR or ./runs).",
    )
    p.add_argument("--quiet", action="store_true", help="Print only the run directory.")
    p.add_argument(
        "--into",
        metavar="RUN_DIR",
        help="Train into an existing run directory, resuming from its checkpoint if it has one "
        "(what the studio's --on accelerate starts on each process).",
    )
    fields = p.add_argument_group("config overrides (each overrides the same field of the YAML)")
    add_arguments(fields, RunConfig)
    p.set_defaults(func=run)


def _line(p) -> str:
    parts = [f"step {p.step}/{p.total_steps}"]
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4f}")
    if p.learning_rate is not None:
        parts.append(f"lr {p.learning_rate:.2e}")
    if p.tokens_per_s:
        parts.append(f"{p.tokens_per_s:.0f} tok/s")
    if p.seconds_per_step:
        parts.append(f"{p.seconds_per_step:.2f} s/step")
    if p.eta_s is not None:
        parts.append(f"eta {p.eta_s:.0f}s")
    return "  ".join(parts)


def _config(args) -> RunConfig | None:
    if args.resume:
        return None
    config = RunConfig.load(args.config) if args.config else RunConfig()
    apply_overrides(config, vars(args))
    return config


def _distributed():
    """accelerate's process state when launched with several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return None
    import torch  # lazy: cli-startup
    from accelerate import PartialState  # lazy: cli-startup

    # Without GPUs the processes talk over gloo; accelerate only picks it when told cpu=True,
    # and the Trainer reuses this (process-wide) state.
    return PartialState(cpu=not torch.cuda.is_available())


def _start_into(jobs, args, state):
    """Every process trains into the run directory the studio made; Stop reaches them through it."""
    from studio.launch.remote import watch_stop_file  # lazy: cli-startup

    run_ = open_cli_run(args.into, args.runs_dir)
    main = state is None or state.is_main_process
    if run_.last_checkpoint() is not None:
        started = jobs.start(None, resume=run_.path, run_dir=run_.path, main_process=main)
    else:
        started = jobs.start(run_.config(), run_dir=run_.path, main_process=main)
    watch_stop_file(run_, jobs)
    return started


def _start(jobs, config, args, state):
    """Start the job; under a distributed launch the main process goes first and shares the run dir."""
    if args.into:
        return _start_into(jobs, args, state)
    if state is None:
        return jobs.start(config, resume=args.resume)
    from accelerate.utils import broadcast_object_list  # lazy: cli-startup

    payload = [None]
    run_ = error = None
    if state.is_main_process:
        try:
            run_ = jobs.start(config, resume=args.resume)
            payload = [str(run_.path)]
        except ValueError as exc:
            error, payload = exc, [f"error: {exc}"]
    broadcast_object_list(payload, from_process=0)
    if error is not None:
        raise error
    if payload[0].startswith("error: "):
        raise ValueError(f"the main process refused the run ({payload[0][7:]})")
    if state.is_main_process:
        return run_
    resume = payload[0] if args.resume else None
    return jobs.start(config, resume=resume, run_dir=payload[0], main_process=False)


def run(args) -> int:
    from studio.launch import remote  # lazy: cli-startup
    from studio.train.jobs.manager import JobManager  # lazy: cli-startup
    from studio.train.jobs.shutdown import SignalStop  # lazy: cli-startup

    state = _distributed()
    main = state is None or state.is_main_process
    quiet = args.quiet or not main
    try:
        jobs = JobManager(runs_folder(args.runs_dir), launcher=remote)
        if args.resume:
            args.resume = str(open_cli_run(args.resume, args.runs_dir).path)
        run_ = _start(jobs, _config(args), args, state)
    except ValueError as exc:
        return fail(exc) if main else 2
    if not quiet:
        print(f"run {run_.id}: training ({run_.path})", flush=True)
    guard = SignalStop(jobs).install()
    try:
        p = _follow(jobs, guard, quiet, main)
    finally:
        guard.restore()
    if not main:
        return 1 if p.status == "failed" else 0
    for warning in p.warnings:
        print(f"warning: {warning}")
    if p.status == "failed":
        print(f"error: {p.error}")
        print(run_.path)
        return 1
    cause = guard.record(p)
    if cause:
        print(f"interrupted: {cause}", flush=True)
    elif not args.quiet:
        print(f"{p.status} at step {p.step}; adapter in {run_.adapter_dir}")
    print(run_.path)
    return 143 if cause else 0


def _follow(jobs, guard, quiet: bool, main: bool):
    """Print progress until the job ends; Ctrl-C or SIGTERM stop it after the current step."""
    printed, stopping = 0, False
    try:
        while jobs.active:
            time.sleep(0.5)
            if guard.received and not stopping:
                stopping = jobs.stop()
            p = jobs.snapshot()
            if not quiet and p.step > printed:
                printed = p.step
                print(_line(p), flush=True)
    except KeyboardInterrupt:
        if main:
            print("stopping after the current step...", flush=True)
        jobs.stop()
    return jobs.wait()
