"""``python -m studio estimate``: parameters and memory of a run before it starts (no weights loaded).

    python -m studio estimate --model smollm2-135m-instruct --adapter lora --lora-r 16 --target-modules attention
    python -m studio estimate --model meta-llama/Llama-3.1-8B-Instruct --adapter qlora --device cuda --free-gib 24
    python -m studio estimate --config run.yaml                  # the run a config file describes
    python -m studio estimate --adapter full --measure --steps 3  # also train 3 steps and measure the peak

The run is described with the same flags as ``python -m studio train`` (``--adapter``, ``--lora-r``,
``--target-modules``, ``--method sft|dpo``, ``--batch-size``, ``--max-length``...); the estimate's
own are ``--free-gib``, ``--device``, ``--measure`` (with ``--steps``) and ``--json``.
M is the embedded model, a model folder, a config.json, or a Hub id (read from the local cache,
the Hub, or the studio's copy of a few popular architectures when offline). The JSON has
``total_params``, ``trainable_params``, ``memory_bytes`` (parts and ``total``) and the verdict.
"""

from __future__ import annotations

import argparse
import math

from studio.cli.common import fail, print_json
from studio.config import AdapterConfig, RunConfig
from studio.schema import ConfigError, Problem, add_arguments, apply_overrides, bounds_problems

ADAPTERS = AdapterConfig.__dataclass_fields__["adapter"].metadata["choices"]


def register(sub) -> None:
    p = sub.add_parser(
        "estimate",
        help="Parameters, memory and whether a run fits, from the model's config alone.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="YAML", help="Estimate the run of this config (flags below override it).")
    p.add_argument("--free-gib", type=_gib_amount, metavar="GIB", help="Judge the fit against this much free memory.")
    p.add_argument(
        "--device",
        choices=["cuda", "cpu"],
        help="Estimate for this kind of device instead of this machine's (e.g. plan a GPU run on a laptop).",
    )
    p.add_argument("--measure", action="store_true", help="Also train a few steps here and measure the peak.")
    p.add_argument("--steps", type=int, default=3, help="Steps to train with --measure (default: 3).")
    p.add_argument("--json", action="store_true", help="Print JSON.")
    add_arguments(p.add_argument_group("the run (the same flags as python -m studio train)"), RunConfig)
    p.set_defaults(func=run)


def _gib_amount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GiB") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite amount above 0, e.g. 24")
    return value


def config_from_args(args) -> RunConfig:
    """The config file (or the defaults) with the train flags applied; ConfigError names a bad value."""
    if args.method in ADAPTERS:
        raise ConfigError(
            [Problem("method", f"--method is sft or dpo, as in train; the fine-tuning type is --adapter {args.method}")]
        )
    config = RunConfig.load(args.config) if args.config else RunConfig()
    apply_overrides(config, vars(args))
    problems = [p for section in config.sections() for p in bounds_problems(getattr(config, section))]
    if problems:
        raise ConfigError(problems)
    if config.train.method == "dpo" and args.method and config.data.dataset.endswith("sample_sft.jsonl"):
        config.data.dataset = "assets/sample_dpo.jsonl"  # what --measure trains on
    return config


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _print(est, verdict) -> None:
    print(f"model          {est.model} ({est.adapter}, {est.method}, {est.precision})")
    print(f"parameters     {est.total_params:,} total, {est.trainable_params:,} trainable ({est.trainable_share:.3%})")
    for part, value in est.memory_bytes.items():
        print(f"  {part:<13}{_gib(value)}")
    for note in est.notes:
        print(f"note           {note}")
    print(verdict.message)
    for suggestion in verdict.suggestions:
        print(f"  to fit: {suggestion}")


def target_device(args):
    """This machine, or the device kind asked for (a GPU with native bf16, of --free-gib memory)."""
    from studio.models.device import DeviceInfo, detect  # lazy: cli-startup

    here = detect()
    if not args.device or args.device == here.kind:
        return here
    memory = int((args.free_gib or 24) * 2**30)
    return DeviceInfo(args.device, f"a planned {args.device}", memory, memory, args.device == "cuda")


def run(args) -> int:
    from studio.train.estimate import estimate, fit  # lazy: cli-startup

    try:
        config = config_from_args(args)
        device = target_device(args)
        est = estimate(config, device)
        free = int(args.free_gib * 2**30) if args.free_gib else None
        verdict = fit(est, config, device, free_bytes=free)
    except ValueError as exc:
        return fail(exc)
    measured = None
    if args.measure:
        from studio.train.peak_memory import measure  # lazy: cli-startup

        try:
            measured = measure(config, args.steps).to_dict()
        except ValueError as exc:
            return fail(exc)
    if args.json:
        data = est.to_dict()
        data["fit"] = {"level": verdict.level, "message": verdict.message, "suggestions": verdict.suggestions}
        if measured:
            data["measured"] = measured
        print_json(data)
        return 0
    _print(est, verdict)
    if measured:
        print(
            f"measured peak  {_gib(measured['measured_bytes'])} over {args.steps} steps "
            f"(estimate {_gib(measured['estimated_bytes'])}, {measured['error_pct']:+.1f}%)"
        )
    return 0
