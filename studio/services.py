"""The process-wide service object the UI holds: the one job manager and the one chat engine.

UI handlers call these methods and nothing deeper; each returns plain data (dataclasses,
dicts, plotly figures) and raises ValueError with a message meant for the user.

Methods that touch runs take ``user``: the signed-in person the UI got from the request, whose
own runs (and the shared ones, read-only) they reach; studio.runs.owners holds the rule. None is
the operator (scripts, tests): every run. A Start while a training runs waits in the training
queue (studio.train.queue) instead of being refused.

This module is the UI's one door: ``studio.ui`` imports only from here, ``studio.config`` and
``studio.schema`` (tests/test_layers.py reads the imports). The names re-exported below are the
option dataclasses and pure render helpers (figures, tables, file writers) the tabs need.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from studio.chat.arena import arena_path, count_pairs, record_vote
from studio.chat.compare import compare_prompts, parse_prompts, save_csv
from studio.chat.engine import BASE, ChatEngine, base_of
from studio.chat.sampling import Sampling, distribution_figure
from studio.config import RunConfig
from studio.data import LoadedData, load_data
from studio.data.clean import CleanOptions, clean, default_output, save
from studio.data.formats import FORMATS
from studio.data.preview import Preview, preview
from studio.data.stats import length_figure
from studio.evaluate.pipeline import EvalOptions, NoValidationSplit, evaluate_run, held_out_prompts
from studio.evaluate.report import history_row, load_results, result_files, results_figure, results_table
from studio.export import gguf_hub
from studio.export.card import write_card
from studio.export.gguf import export_gguf, gguf_dir
from studio.export.hub import RepoExists, token_hint
from studio.export.merge import merge, merged_dir, zip_adapter
from studio.models import loading
from studio.models.device import detect
from studio.runs import completions
from studio.runs.curves import compare_figure, is_dpo, metric_keys, placeholder_figure, training_figure
from studio.runs.dashboards import dashboard
from studio.runs.diff import config_differences
from studio.runs.directory import RESUMABLE, Run, delete_run, list_runs, not_a_source, open_run, run_source, runs_root
from studio.runs.metrics import probe_table
from studio.runs.owners import LOCAL, check_change, check_visible, is_shared, may_change, owner_of, share, visible
from studio.train import guide
from studio.train.checks import optimizer_choices
from studio.train.command_line import command_text
from studio.train.jobs import JobManager
from studio.train.progress import Progress, duration
from studio.train.queue import QueueFull, TrainingQueue, ordinal
from studio.train.remote import stop_elsewhere
from studio.train.review import check_paths, review, warm_imports

__all__ = [
    "FORMATS",
    "LOCAL",
    "QueueFull",
    "CleanOptions",
    "EvalOptions",
    "NoValidationSplit",
    "RepoExists",
    "Sampling",
    "Studio",
    "clean",
    "command_text",
    "count_pairs",
    "default_output",
    "duration",
    "get_studio",
    "guide",
    "is_dpo",
    "length_figure",
    "optimizer_choices",
    "parse_prompts",
    "placeholder_figure",
    "probe_table",
    "results_figure",
    "results_table",
    "save",
    "token_hint",
    "training_figure",
]


class Studio:
    def __init__(self, runs_root: str | Path | None = None):
        self.runs_root = Path(runs_root) if runs_root else None
        self.jobs = JobManager(self.runs_root)
        self.queue = TrainingQueue(self.jobs, self.runs_root)
        self.chat = ChatEngine()
        self.chat.source_root = self.root  # chat and evaluation load adapters from runs only
        self._tokenizers: dict[str, object] = {}
        self._lock = threading.Lock()

    # -- models ----------------------------------------------------------------------------------
    def tokenizer(self, model: str, user: str | None = None):
        loading.local_folder((model or "").strip(), user)  # a folder ``user`` may not read: refused, not cached
        with self._lock:
            if model not in self._tokenizers:
                self._tokenizers[model] = loading.load_tokenizer(model)
            return self._tokenizers[model]

    # -- data ------------------------------------------------------------------------------------
    def load_data(self, source: str, fmt="auto", columns="", system_prompt="", user=None) -> LoadedData:
        """A Hub dataset, or a file ``user`` may read: not another person's run files (studio.data.access)."""
        return load_data(source, fmt, columns, system_prompt, user=user)

    def preview(self, data: LoadedData, model: str, max_length: int | None = None, n: int = 5, user=None) -> Preview:
        return preview(data, self.tokenizer(model, user), max_length, n)

    # -- training (a Start while one trains waits in the queue) ------------------------------------
    def start_training(self, config: RunConfig, user: str | None = None) -> Run:
        """Train ``config`` now, or queue it (``queued(run.id)`` says where); ``user`` owns the run."""
        g = config.grpo
        if config.train.method == "grpo" and g.reward_model > 0 and g.reward_model_run.strip():
            self.run(g.reward_model_run, user)  # a reward model one may not see is refused like a missing one
        check_paths(config, user)  # the files it names: ``user``'s to read (the job reads them as the operator)
        return self.queue.submit(config, user).run

    def sampled_answers(self, run_id: str, user: str | None = None) -> tuple[list[str], list[list]]:
        """GRPO's latest sampled answers, best first, with each reward function's score (else empty)."""
        return completions.table(completions.read(self.run(run_id, user).path))

    def resume_training(self, run_id: str, user: str | None = None) -> Run:
        run = check_change(self.run(run_id, user), user, "resume")
        return self.queue.submit(None, user, resume=run.path).run

    def queued(self, run_id: str) -> str:
        """'queued: 2nd in line' for a waiting run; '' for one that trains or ended."""
        position = self.queue.position(run_id)
        return f"queued: {ordinal(position)} in line" if position else ""

    def cancel_queued(self, run_id: str, user: str | None = None) -> Run:
        return self.queue.cancel(run_id, user)

    def restore_queue(self) -> list[str]:
        """At app start: the runs a previous process left queued wait again, in their order."""
        return [run.id for run in self.queue.restore()]

    def waiting_runs(self, user: str | None = None) -> list[str]:
        """``user``'s runs waiting in the training queue, first in line first."""
        return [run.id for run in self.queue.waiting(user)]

    def resumable_runs(self, user: str | None = None) -> list[str]:
        """Runs that stopped before their end with a checkpoint that has steps left, newest first."""
        return [
            run.id
            for run in self.runs(user, mine=True)
            if run.status().get("status") in RESUMABLE and run.last_checkpoint() and run.steps_left() != 0
        ]

    def run_config(self, run_id: str, user: str | None = None) -> RunConfig:
        """The resolved config a run was started with (its config.yaml)."""
        return self.run(run_id, user).config()

    def _job_run(self) -> Run | None:
        return self.jobs.run if self.jobs.run is not None and self.jobs.run.path.is_dir() else None

    def stop_training(self, user: str | None = None) -> bool:
        """Stop the running job if ``user``'s; with none here, ``user``'s runs training elsewhere (remote.py)."""
        if self.jobs.active:
            return (self._job_run() is None or may_change(self._job_run(), user)) and self.jobs.stop()
        return bool(stop_elsewhere(self.runs(user, mine=True)))

    def stop(self, user: str | None = None) -> str:
        """What Stop does for ``user``, in one sentence: stop their training, else take their last
        waiting Start (or resume) out of the training queue, else nothing."""
        if self.stop_training(user):
            return "Stopping after the current step; the checkpoint and the adapter are kept."
        run = self.queue.cancel_last(user)
        return f"Took {run.id} out of the queue." if run else "No training of yours is running or waiting."

    def progress(self, user: str | None = None) -> Progress:
        """The job's snapshot when ``user`` may see its run; else their own run waiting in the queue;
        else an idle snapshot that says whether another person's training runs."""
        p = self.jobs.snapshot()
        run = self._job_run()
        shown = run is not None and visible(run, user)
        if p.active and shown:
            return p
        mine = self.queue.waiting(user)
        if mine:
            return self._waiting_progress(mine[0])
        if not p.run_dir or shown:
            return p
        busy = "Another person's training is running; a Start now waits in the queue for it." if p.active else ""
        return Progress(message=busy)

    def _waiting_progress(self, run: Run) -> Progress:
        return Progress(run_id=run.id, run_dir=str(run.path), status="queued", message=self.queued(run.id))

    def review(self, config: RunConfig, user: str | None = None):
        """Problems, batch arithmetic, estimate and fit of a config, before Start (studio.train.review)."""
        return review(config, runs_root=self.runs_root, user=user)

    def device(self):
        return detect()

    def warm_up(self) -> None:
        """Resolve the model libraries' lazy imports now, in this thread (see studio.train.review)."""
        warm_imports()

    def delete_run(self, run_id: str, user: str | None = None) -> None:
        """Delete a run of ``user``'s; one waiting in the queue leaves it (it never trained)."""
        run = check_change(self.run(run_id, user), user, "delete")
        if self.queue.holds(run):
            self.queue.cancel(run.id, user)
            return
        if self.jobs.active and self.jobs.run is not None and self.jobs.run.path == run.path:
            raise ValueError(f"run {run.id} is training; stop it first")
        delete_run(run)

    # -- runs ------------------------------------------------------------------------------------
    def runs(self, user: str | None = None, mine: bool = False) -> list[Run]:
        """The runs ``user`` may see (their own and the shared ones), or with ``mine`` may change, newest first."""
        return [run for run in list_runs(self.runs_root) if (may_change if mine else visible)(run, user)]

    @property
    def root(self) -> Path:
        """The runs folder: run ids and adapter sources resolve only inside it."""
        return self.runs_root or runs_root()

    def run(self, run_id: str, user: str | None = None) -> Run:
        """The run ``run_id`` (an id or a folder) inside the runs folder, when ``user`` may see it;
        ValueError names a missing one, and one of another person's, in the same words."""
        return check_visible(open_run(run_id, self.root), user, run_id)

    def _summary(self, run: Run) -> dict:
        queued = {"queue": text} if (text := self.queued(run.id)) else {}
        return {**run.summary(), "owner": owner_of(run), "shared": is_shared(run), **queued}

    def run_summaries(self, user: str | None = None) -> list[dict]:
        """One summary per run ``user`` may see (status, owner, step, best numbers), newest first."""
        return [self._summary(run) for run in self.runs(user)]

    def share_run(self, run_id: str, shared: bool, user: str | None = None) -> None:
        """Let the others see ``run_id`` read-only (list, open, chat, its evaluation), or stop."""
        share(check_change(self.run(run_id, user), user, "share"), shared)

    def run_view(self, run_id: str, user: str | None = None) -> dict:
        """What the Runs tab shows of one run: its curves, summary, probe table, config, log tail, tracker."""
        run = self.run(run_id, user)
        metrics = run.metrics()
        return {
            "figure": training_figure(metrics, dpo=is_dpo(metrics)),
            "summary": self._summary(run),
            "probes": probe_table(run.probes()),
            "config": run.config_path.read_text(),
            "log": run.log_tail(40),
            "tracker": dashboard(run.path),  # the tracker it also logged to and how to open it, or None
        }

    def compare_runs(self, run_ids: list[str], key: str = "loss", user: str | None = None):
        """One metric of several runs overlaid: (figure, the metrics the runs have, the one drawn:
        ``key`` when present, else the first)."""
        curves = {run_id: self.run(run_id, user).metrics() for run_id in run_ids}
        keys = metric_keys(curves)
        key = key if key in keys else (keys[0] if keys else "loss")
        return compare_figure(curves, key), keys, key

    def config_differences(self, run_ids: list[str], user: str | None = None) -> list[dict]:
        """The config fields that differ between the runs (studio.runs.diff), for the overlay."""
        return config_differences({run_id: self.run(run_id, user).config().to_dict() for run_id in run_ids})

    def _sources(self, sources: list[str | None], user: str | None = None, chat: bool = True) -> list[str | None]:
        """Chat columns: the base (None) or the adapter or a checkpoint of a run ``user`` may see."""
        return [s if s in (None, "", BASE) else self._source(s, user, chat) for s in sources]

    def _source(self, source: str, user: str | None, chat: bool = True) -> str:
        checked = run_source(source, self.root)
        run_id = Path(checked).expanduser().resolve().relative_to(self.root.resolve()).parts[0]
        if not visible(Run(self.root / run_id), user):  # in the same words as a source outside the runs
            raise not_a_source(source)
        if chat and Run(self.root / run_id).config().train.method == "reward":
            raise ValueError(f"run {run_id} is a reward model: it scores answers and writes none; evaluate it instead")
        return checked

    def adapter_choices(self, user: str | None = None) -> list[tuple[str, str]]:
        """(label, adapter folder) for every run ``user`` may see with a saved adapter, newest first."""
        out = []
        for run in self.runs(user):
            if run.config().train.method == "reward":  # a score head: it answers nothing
                continue
            if run.has_adapter():
                out.append((run.id, str(run.adapter_dir)))
            for checkpoint in run.checkpoints():
                if (checkpoint / "adapter_config.json").exists() or (checkpoint / "config.json").exists():
                    out.append((f"{run.id} @ {checkpoint.name}", str(checkpoint)))
        # A full fine-tune saves a whole model: say so, it is a second model in memory.
        return [
            (label if (Path(folder) / "adapter_config.json").exists() else f"{label} (full model)", folder)
            for label, folder in out
        ]

    # -- chat ------------------------------------------------------------------------------------
    def chat_stream(self, messages: list[dict], sources: list[str | None], sampling: Sampling, user: str | None = None):
        """Replies side by side, the adapters' own base beside them; ``messages``: one conversation,
        or one per column. ``user``'s next turn continues from this one's (studio.chat.prefix_cache)."""
        sources = self._sources(sources, user)
        base = base_of(sources)
        if base:
            self.chat.ensure_base(base)
        yield from self.chat.stream(messages, sources, sampling, owner=user or LOCAL)

    # -- playground and evaluation (studio.chat.sampling, arena, compare, evaluate) ----------------------
    def next_token_figure(self, messages: list, sources: list, labels: list[str], sampling: Sampling, user=None):
        """The sampling window: each source's candidates for its reply's first token."""
        sources = self._sources(sources, user)
        base = base_of(sources)
        if base:
            self.chat.ensure_base(base)
        return distribution_figure(self.chat.distributions(messages, sources, sampling, labels), sampling)

    @property
    def arena_path(self) -> Path:
        return arena_path(self.runs_root)

    def vote(self, prompt: list[dict], answers: list[tuple[str, str]], winner: int, extra: dict | None = None) -> int:
        return record_vote(self.arena_path, prompt, answers, winner, extra)

    def compare(self, prompts: list[str], adapter: str, sampling: Sampling, system: str = "", user=None) -> list[dict]:
        adapter = self._sources([adapter], user)[0]
        self.chat.ensure_base(base_of([adapter]))
        return compare_prompts(self.chat, prompts, adapter, sampling, system)

    def _owned(self, run_id: str, user: str | None, action: str) -> Run:
        """The run, when ``user`` may change it (shared runs are read-only to the others)."""
        return check_change(self.run(run_id, user), user, action)

    def held_out_prompts(self, run_id: str, n: int = 10, train_sample: int = 0, user: str | None = None) -> list[str]:
        return held_out_prompts(self.run(run_id, user), n, train_sample)

    def evaluate(self, run_id: str, options=None, adapter: str | None = None, progress=None, user=None) -> dict:
        """Evaluate base vs adapter; the results are written into the run, so it must be ``user``'s."""
        run = self._owned(run_id, user, "evaluate")
        adapter = self._sources([adapter], user, chat=False)[0] if adapter else adapter
        return evaluate_run(self.chat, run, options, adapter, progress)

    def eval_results(self, run_id: str, user: str | None = None) -> dict | None:
        return load_results(self.run(run_id, user))

    def eval_files(self, run_id: str, user: str | None = None) -> list[str]:
        """The run's saved evaluation files, to download (eval.json, eval_generations.csv)."""
        return [str(path) for path in result_files(self.run(run_id, user))]

    def compare_csv(self, run_id: str, rows: list[dict], user: str | None = None) -> str:
        """A batch comparison (rows of ``compare``) saved as batch_compare.csv: into the run when it
        is ``user``'s, else (a run shared read-only) into a temporary folder, to download."""
        run = self.run(run_id, user)
        folder = run.path if may_change(run, user) else Path(tempfile.mkdtemp(prefix="studio-compare-"))
        return str(save_csv(rows, folder / "batch_compare.csv"))

    def eval_history(self, user: str | None = None) -> list[dict]:
        return [row for row in (history_row(run) for run in self.runs(user)) if row]

    def chat_memory(self) -> dict:
        """What the chat engine holds, and whether a training (with its own copy) runs beside it."""
        return {**self.chat.memory(), "training": self.jobs.active}

    def unload_models(self) -> int:
        return self.chat.unload()

    # -- export and the Hub: they write into the run, so only its owner (studio.export.*) ---------------
    def export_zip(self, run_id: str, user: str | None = None) -> Path:
        return zip_adapter(self._owned(run_id, user, "export"))

    def merge(self, run_id: str, dtype: str = "bf16", progress=None, user: str | None = None):
        run = self._owned(run_id, user, "export")
        return merge(run, merged_dir(run, dtype), dtype, overwrite=True, progress=progress)

    def export_gguf(self, run_id: str, gguf_type: str = "q8_0", sampling=None, progress=None, user=None):
        """A checked GGUF file and Modelfile in <run>/export/gguf-<type>/ (studio.export.gguf)."""
        run = self._owned(run_id, user, "export")
        return export_gguf(
            run, gguf_dir(run, gguf_type), gguf_type, overwrite=True, sampling=sampling, progress=progress
        )

    def model_card(self, run_id: str, user: str | None = None) -> Path:
        return write_card(self._owned(run_id, user, "export"))

    def push(self, run_id: str, repo: str, token: str | None = None, progress=None, user=None, **options):
        """Push to the Hub; ``options=ExportConfig(...)`` or single fields; ``gguf`` set: the checked GGUF
        (see studio.export.gguf_hub.push and studio.export.hub.push_run)."""
        return gguf_hub.push(self._owned(run_id, user, "push"), repo, token, progress=progress, **options)


_studio: Studio | None = None


def get_studio() -> Studio:
    global _studio
    if _studio is None:
        _studio = Studio()
    return _studio
