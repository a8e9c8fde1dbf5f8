"""``python -m studio estimate``: parameters and memory of a run before it starts (no weights loaded).

    python -m studio estimate --model smollm2-135m-instruct --method lora --r 16 --targets attention
    python -m studio estimate --model meta-llama/Llama-3.1-8B-Instruct --method qlora --device cuda --free-gib 24
    python -m studio estimate --config run.yaml                  # the run a config file describes
    python -m studio estimate --method full --measure --steps 3  # also train 3 steps and measure the peak

M is the embedded model, a model folder, a config.json, or a Hub id (read from the local cache,
the Hub, or the studio's copy of a few popular architectures when offline). The JSON has
``total_params``, ``trainable_params``, ``memory_bytes`` (parts and ``total``) and the verdict.
"""

from __future__ import annotations

import argparse

from studio.cli.common import fail, print_json
from studio.config import EMBEDDED_MODEL, RunConfig


def register(sub) -> None:
    p = sub.add_parser(
        "estimate",
        help="Parameters, memory and whether a run fits, from the model's config alone.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="YAML", help="Estimate the run of this config (flags below override it).")
    p.add_argument("--model", metavar="M", help=f"Model folder, config.json or Hub id (default: {EMBEDDED_MODEL}).")
    p.add_argument("--method", choices=["lora", "qlora", "full"], help="Fine-tuning type (default: lora).")
    p.add_argument("--r", type=int, metavar="R", help="LoRA rank (default: 8).")
    p.add_argument("--targets", metavar="T", help="Target modules: q,v | attention | all-linear | a comma list.")
    p.add_argument("--objective", choices=["sft", "dpo"], help="Training method (DPO doubles the sequences).")
    p.add_argument("--batch-size", type=int, metavar="N", help="Per-device batch size (default: 4).")
    p.add_argument("--max-length", type=int, metavar="N", help="Longest sequence in tokens (default: 512).")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], help="Compute precision.")
    p.add_argument("--optim", metavar="NAME", help="Optimizer, e.g. adamw_torch or adamw_8bit.")
    p.add_argument(
        "--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None, help="Recompute activations."
    )
    p.add_argument("--free-gib", type=float, metavar="GIB", help="Judge the fit against this much free memory.")
    p.add_argument(
        "--device",
        choices=["cuda", "cpu"],
        help="Estimate for this kind of device instead of this machine's (e.g. plan a GPU run on a laptop).",
    )
    p.add_argument("--measure", action="store_true", help="Also train a few steps here and measure the peak.")
    p.add_argument("--steps", type=int, default=3, help="Steps to train with --measure (default: 3).")
    p.add_argument("--json", action="store_true", help="Print JSON.")
    p.set_defaults(func=run)


def config_from_args(args) -> RunConfig:
    config = RunConfig.load(args.config) if args.config else RunConfig()
    values = {
        ("model", "model"): args.model,
        ("adapter", "adapter"): args.method,
        ("adapter", "lora_r"): args.r,
        ("adapter", "target_modules"): args.targets,
        ("train", "method"): args.objective,
        ("train", "batch_size"): args.batch_size,
        ("train", "max_length"): args.max_length,
        ("model", "precision"): args.precision,
        ("train", "optim"): args.optim,
        ("train", "gradient_checkpointing"): args.gradient_checkpointing,
    }
    for (section, name), value in values.items():
        if value is not None:
            setattr(getattr(config, section), name, value)
    if args.r is not None and args.config is None:
        config.adapter.lora_alpha = 2 * args.r
    if config.train.method == "dpo" and args.objective and config.data.dataset.endswith("sample_sft.jsonl"):
        config.data.dataset = "assets/sample_dpo.jsonl"
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
    from studio.models.device import DeviceInfo, detect

    here = detect()
    if not args.device or args.device == here.kind:
        return here
    memory = int((args.free_gib or 24) * 2**30)
    return DeviceInfo(args.device, f"a planned {args.device}", memory, memory, args.device == "cuda")


def run(args) -> int:
    from studio.train.estimate import estimate, fit

    try:
        config = config_from_args(args)
        if args.r is not None and args.r < 1:
            raise ValueError("--r: LoRA rank must be at least 1")
        device = target_device(args)
        est = estimate(config, device)
        free = int(args.free_gib * 2**30) if args.free_gib else None
        verdict = fit(est, config, device, free_bytes=free)
    except ValueError as exc:
        return fail(exc)
    measured = None
    if args.measure:
        from studio.train.peak_memory import measure

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
