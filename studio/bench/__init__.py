"""``python -m studio bench [--quick] [--json]``: every speed claim as a ratio measured in one run.

Sections (each a figure and, where there is a reference, a ratio):

- ceiling: this machine's matrix-multiply FLOPS at the model's shapes in the run's precision and
  its memory bandwidth (studio.bench.ceiling); every training and decode figure below also gets its
  fraction of the ceiling, by the formulas stated there;
- sft / dpo: studio vs the bare PyTorch floor vs the plain TRL script (studio.bench.throughput);
- reward / orpo / kto / grpo: the studio's seconds a step, samples and tokens per second on the
  same job shape (GRPO: sampling and training at the default group size; studio.bench.methods);
- tokens: useful-token share of the studio's batching vs plain padding;
- startup: ``python app.py`` to the page answering, model load from the cache, first GGUF conversion;
- chat: time to first token and decode tokens/s, base and adapter, and a next turn's first token
  with the first turn kept and computed again (studio.bench.chat);
- responsiveness: p95 latency of a dataset preview while a training runs;
- memory: peak memory of LoRA, QLoRA and full fine-tuning next to the estimator's prediction;
- data: exact + near-duplicate removal rows/s.

``--quick`` runs every section at a size that takes a couple of minutes (the tiny random model
for training), so CI keeps the benchmark from rotting; its figures say nothing about speed.

Modules: ``ceiling`` (the machine's own ceilings and each figure's fraction of them);
``throughput`` (sft and dpo against the floor and the plain TRL script); ``methods`` (reward, ORPO,
KTO and GRPO on the studio's pipeline); ``chat`` (first token and decoding, base and adapter);
``memory`` (peak memory beside the estimate); ``startup`` (app launch, model loads, UI latency
during a training); ``tiny`` (tiny random models of every family, for tests and ``--quick``);
``report`` (the report as BENCHMARKS.md's Markdown table). This file runs the sections in order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from studio.bench import methods, startup, throughput
from studio.bench.ceiling import COMPARED, annotate, beside, ceilings
from studio.bench.chat import chat_figures
from studio.bench.memory import memory_figures
from studio.bench.throughput import default_dataset
from studio.bench.tiny import make_tiny_model
from studio.config import EMBEDDED_MODEL, METHODS
from studio.data.dedup import benchmark
from studio.models.device import detect, resolve_precision
from studio.paths import ALLOWED_ENV, allowed_dirs

log = logging.getLogger(__name__)

EMBEDDED = EMBEDDED_MODEL


def _sizes(quick: bool) -> dict:
    if quick:
        return dict(
            steps=2, warmup=1, dpo_steps=2, chat_tokens=8, preview_calls=4, dedup_rows=2000,
            rl_steps=1, rl_warmup=0, grpo_steps=1, grpo_completion=8, max_length=64,
        )  # fmt: skip
    return dict(
        steps=10, warmup=2, dpo_steps=6, chat_tokens=64, preview_calls=20, dedup_rows=100_000,
        rl_steps=4, rl_warmup=1, grpo_steps=2, grpo_completion=None, max_length=256,
    )  # fmt: skip


def sections(quick: bool, model: str, workdir: Path, plain: bool = True) -> dict[str, Callable[[], dict]]:
    size = _sizes(quick)
    cutoff = size["max_length"]
    sft_data, dpo_data = throughput.default_dataset("sft"), throughput.default_dataset("dpo")

    def rl(method: str) -> Callable[[], dict]:
        steps = size["grpo_steps"] if method == "grpo" else size["rl_steps"]
        return lambda: methods.method_figures(model, method, steps, size["rl_warmup"], size["grpo_completion"])

    return {
        "ceiling": lambda: _ceiling(model, quick),
        "sft": lambda: throughput.compare(model, sft_data, "sft", size["steps"], size["warmup"], plain, cutoff),
        "dpo": lambda: throughput.compare(model, dpo_data, "dpo", size["dpo_steps"], size["warmup"], plain, cutoff),
        **{method: rl(method) for method in METHODS if method not in COMPARED},
        "tokens": lambda: throughput.useful_token_share(model, sft_data, batches=5 if quick else 20),
        "startup": lambda: {
            "app_start_s": startup.app_startup_seconds(),
            "model_load_s": startup.model_load_seconds(EMBEDDED),
            # --quick leaves the first conversion (its gguf_conversion_s) to tests/test_models.py
            **({} if quick else {"gguf_conversion_s": startup.conversion_seconds()}),
        },
        "chat": lambda: _chat(EMBEDDED if not quick else model, size["chat_tokens"], workdir),
        "responsiveness": lambda: startup.preview_latency_during_training(model, sft_data, calls=size["preview_calls"]),
        "memory": lambda: _memory(model, quick),
        "data": lambda: _data(size["dedup_rows"]),
    }


def _ceiling(model: str, quick: bool) -> dict:
    return ceilings(model, resolve_precision("auto"), quick)


def _chat(model: str, tokens: int, workdir: Path) -> dict:
    return chat_figures(model, tokens, workdir)


def _memory(model: str, quick: bool) -> dict:
    return memory_figures(model, quick)


def _data(rows: int) -> dict:
    return benchmark(rows)


@contextlib.contextmanager
def _readable(folder: Path):
    """Let the studio read models and data from ``folder`` (the benchmark's own folder holds the
    --quick tiny model), as ``--data-dir`` would; this process and the ones it starts."""
    before = os.environ.get(ALLOWED_ENV)
    os.environ[ALLOWED_ENV] = os.pathsep.join(str(p) for p in [*allowed_dirs(), folder])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ALLOWED_ENV, None)
        else:
            os.environ[ALLOWED_ENV] = before


# Sections held to the ceilings measured just before and after them (studio.bench.ceiling).
BESIDE = (*(m for m, row in METHODS.items() if row.rows != "prompt"), "chat")  # GRPO mostly samples


def _section(name: str, section: Callable[[], dict]) -> dict:
    log.warning("bench: %s...", name)
    try:
        # Libraries print progress to stdout; keep stdout for the report alone.
        with contextlib.redirect_stdout(sys.stderr):
            return section()
    except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others' figures
        log.exception("bench section %s failed", name)
        return {"error": f"{type(exc).__name__}: {exc}"}


def run(quick: bool = False, only: list[str] | None = None, plain: bool = True) -> dict:
    """Run the sections (all, or those named) and return one JSON-able report (``plain``: with
    the plain TRL script in sft and dpo)."""
    device = detect()
    report = {
        "quick": quick,
        "machine": {"device": device.describe(), "python": platform.python_version(), "platform": platform.platform()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    readable = _readable(Path(default_dataset("sft")).parent)  # the shared real data, where present
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp, readable, _readable(Path(tmp)):
        workdir = Path(tmp)
        model = EMBEDDED
        if quick:
            model = str(make_tiny_model(workdir / "tiny-llama"))
        report["model"] = "tiny random Llama (quick)" if quick else EMBEDDED
        latest = None  # the ceiling measured last, when nothing ran since: the next section's "before"
        for name, section in sections(quick, model, workdir, plain).items():
            if only and name not in only:
                continue
            held = name in BESIDE and "ceiling" in report and "error" not in report["ceiling"]
            before = (latest or _ceiling(model, quick)) if held else None
            start = time.perf_counter()
            report[name] = _section(name, section)
            report[name]["section_seconds"] = round(time.perf_counter() - start, 1)
            latest = report[name] if name == "ceiling" and "error" not in report[name] else None
            if held:  # the section's own ceiling (studio.bench.ceiling: which ceiling)
                latest = _ceiling(model, quick)
                report[name]["ceiling_beside"] = beside(before, latest)
    annotate(report)
    return report
