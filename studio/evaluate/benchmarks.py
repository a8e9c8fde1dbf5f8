"""Standard benchmarks through EleutherAI's lm-evaluation-harness, base versus adapter.

    python -m studio eval --run <id> --bench studio_facts,studio_arithmetic --limit 20 [--json]
    run_benchmarks(engine, open_run("runs/<id>"), BenchOptions(tasks=["arc_easy"], limit=50))

The harness does the scoring (``lm_eval.simple_evaluate``) over the model the chat engine already
holds: the base, then the same base with the run's adapter switched in (or a full fine-tune's
model), each wrapped in the harness's ``HFLM`` (studio.evaluate.bench_model). ``limit`` caps the
examples per task (per subtask of a group like mmlu). Progress counts the harness's requests and
gives an ETA; a stop event ends it after the batch under way, keeping what finished. Results go
into the run directory as ``benchmarks.json``, task by task, so a later run of other tasks adds to
them (studio.evaluate.bench_results).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import datasets
from lm_eval import simple_evaluate

from studio.chat.engine import ChatEngine
from studio.chat.sources import source_kind
from studio.evaluate.bench_model import RequestWatch, Stopped, StudioLM
from studio.evaluate.bench_options import BenchOptions
from studio.evaluate.bench_results import merge_results, task_scores
from studio.evaluate.bench_tasks import parse_tasks, resolve
from studio.models import loading
from studio.runs.directory import Run

log = logging.getLogger(__name__)

MODELS = ("base", "adapter")
BOOTSTRAP_ITERS = 1000  # only metrics without a closed-form error (BLEU, F1, ...) resample
REPORT_EVERY_S = 0.25


@dataclass
class BenchProgress:
    """What the benchmark is doing: the share done, a sentence, and the seconds left (an estimate)."""

    fraction: float = 0.0
    message: str = ""
    eta_s: float | None = None
    model: str = ""
    done: int = 0
    total: int = 0


Report = Callable[[BenchProgress], None]


@dataclass
class _Clock:
    """The ETA: the requests left in this model's pass at its rate so far; while the base runs, the
    adapter's pass is assumed to take as long (it answers the same requests)."""

    report: Report
    started: float = field(default_factory=time.monotonic)
    shown: float = 0.0
    index: int = 0
    model: str = "base"

    def begin(self, index: int, model: str) -> None:
        self.index, self.model, self.started = index, model, time.monotonic()
        self.shown = 0.0  # the new model's first count is shown at once

    def __call__(self, done: int, total: int, kind: str) -> None:
        now = time.monotonic()
        if now - self.shown < REPORT_EVERY_S and done < total:
            return
        self.shown = now
        share = done / total if total else 0.0
        eta = None
        if done:
            per_request = (now - self.started) / done
            eta = (total - done) * per_request + (total * per_request if self.index == 0 else 0.0)
        message = f"{self.model}: request {done} of {total} ({kind})"
        self.report(BenchProgress((self.index + share) / len(MODELS), message, eta, self.model, done, total))


def run_benchmarks(
    engine: ChatEngine,
    run: Run,
    options: BenchOptions | None = None,
    adapter: str | None = None,
    progress: Report | None = None,
    stop: threading.Event | None = None,
) -> dict:
    """Score base and adapter on the tasks; saves into the run (benchmarks.json) and returns this run's results."""
    options = options or BenchOptions()
    report = progress or (lambda p: log.info("%3.0f%% %s", 100 * p.fraction, p.message))
    stop = stop or threading.Event()
    names = parse_tasks(options.tasks)
    manager, specs = resolve(names)
    source = adapter or str(run.adapter_dir)
    if run.config().train.method == "reward":
        raise ValueError(f"run {run.id} is a reward model: it scores answers and writes none, so it has no benchmark")
    if not adapter and not run.has_adapter():
        raise ValueError(f"run {run.id} has no saved adapter yet; wait for it to finish or pick a checkpoint")
    started = time.time()
    report(BenchProgress(0.0, "loading the base and the adapter"))
    with engine.lock:
        engine.ensure_base(loading.base_model_id(run.config().model.model))
        keys = {"base": engine.load_source(None), "adapter": engine.load_source(source)}
    clock, scores, stopped_at = _Clock(report), {}, ""
    for index, label in enumerate(MODELS):
        clock.begin(index, label)
        watch = RequestWatch(stop, clock)
        try:
            scores[label] = _score(engine, keys[label], watch, manager, specs, names, options)
        except Stopped:
            stopped_at = f"stopped on the {label}, {watch.done} of {watch.total} {watch.kind} requests answered"
            break
    result = {
        "run": run.id,
        "status": "stopped" if stopped_at else "completed",
        "stopped_at": stopped_at,
        "base_model": engine.base_name,
        "adapter_dir": source,
        "adapter_kind": source_kind(source),
        "options": asdict(options),
        "seconds": round(time.time() - started, 2),
        "tasks": merge_results(run, scores, names, source, options, engine.base_name),
    }
    report(BenchProgress(1.0, stopped_at or "done", 0.0))
    return result


def _score(engine: ChatEngine, key, watch: RequestWatch, manager, specs, names, options: BenchOptions) -> dict:
    """One model's scores on every task (the engine's lock held: chat waits, the adapter stays switched in)."""
    with engine.lock:
        lm = StudioLM(engine.use(key), engine.tokenizer, watch, batch_size=options.batch_size)
        try:
            out = simple_evaluate(
                lm,
                tasks=specs,
                task_manager=manager,
                limit=options.limit or None,
                bootstrap_iters=BOOTSTRAP_ITERS,
                log_samples=False,
                apply_chat_template=options.chat_template,
            )
        except (datasets.exceptions.DatasetsError, OSError) as exc:
            raise ValueError(
                f"benchmark tasks {', '.join(names)}: the harness could not load their data "
                f"({type(exc).__name__}: {exc}); the Hub's tasks need the network or their data in the datasets cache"
            ) from exc
    return task_scores(out, names)
