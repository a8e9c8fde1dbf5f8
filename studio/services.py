"""The process-wide service object the UI holds: the one job manager and the one chat engine.

UI handlers call these methods and nothing deeper; each returns plain data (dataclasses,
dicts, plotly figures) and raises ValueError with a message meant for the user.

This module is the UI's one door: ``studio.ui`` imports only from here, ``studio.config`` and
``studio.schema`` (tests/test_layers.py reads the imports). The names re-exported below are the
option dataclasses and pure render helpers (figures, tables, file writers) the tabs need.
"""

from __future__ import annotations

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
from studio.export.card import write_card
from studio.export.gguf import export_gguf, gguf_dir
from studio.export.hub import RepoExists, push_run, token_hint
from studio.export.merge import merge, merged_dir, zip_adapter
from studio.models import loading
from studio.models.device import detect
from studio.runs.curves import compare_figure, is_dpo, metric_keys, placeholder_figure, training_figure
from studio.runs.directory import RESUMABLE, Run, delete_run, list_runs, open_run, probe_table, run_source, runs_root
from studio.train.checks import optimizer_choices
from studio.train.command_line import command_text
from studio.train.jobs import JobManager
from studio.train.presets import PRESETS, preset
from studio.train.progress import Progress, duration
from studio.train.review import review, warm_imports

__all__ = [
    "FORMATS",
    "PRESETS",
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
    "is_dpo",
    "length_figure",
    "optimizer_choices",
    "parse_prompts",
    "placeholder_figure",
    "preset",
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
        self.chat = ChatEngine()
        self.chat.source_root = self.root  # chat and evaluation load adapters from runs only
        self._tokenizers: dict[str, object] = {}
        self._lock = threading.Lock()

    # -- models ----------------------------------------------------------------------------------
    def tokenizer(self, model: str):
        with self._lock:
            if model not in self._tokenizers:
                self._tokenizers[model] = loading.load_tokenizer(model)
            return self._tokenizers[model]

    # -- data ------------------------------------------------------------------------------------
    def load_data(self, source: str, fmt: str = "auto", columns: str = "", system_prompt: str = "") -> LoadedData:
        return load_data(source, fmt, columns, system_prompt)

    def preview(self, data: LoadedData, model: str, max_length: int | None = None, n: int = 5) -> Preview:
        return preview(data, self.tokenizer(model), max_length, n)

    # -- training --------------------------------------------------------------------------------
    def start_training(self, config: RunConfig) -> Run:
        return self.jobs.start(config)

    def resume_training(self, run_id: str) -> Run:
        return self.jobs.start(None, resume=self.run(run_id).path)

    def resumable_runs(self) -> list[str]:
        """Runs that stopped before their end with a checkpoint to continue from, newest first."""
        return [run.id for run in self.runs() if run.status().get("status") in RESUMABLE and run.last_checkpoint()]

    def run_config(self, run_id: str) -> RunConfig:
        """The resolved config a run was started with (its config.yaml)."""
        return self.run(run_id).config()

    def stop_training(self) -> bool:
        return self.jobs.stop()

    def progress(self) -> Progress:
        return self.jobs.snapshot()

    def review(self, config: RunConfig):
        """Problems, batch arithmetic, estimate and fit of a config, before Start (studio.train.review)."""

        return review(config, runs_root=self.runs_root)

    def device(self):

        return detect()

    def warm_up(self) -> None:
        """Resolve the model libraries' lazy imports now, in this thread (see studio.train.review)."""

        warm_imports()

    def delete_run(self, run_id: str) -> None:

        run = self.run(run_id)
        if self.jobs.active and self.jobs.run is not None and self.jobs.run.path == run.path:
            raise ValueError(f"run {run.id} is training; stop it first")
        delete_run(run)

    # -- runs ------------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        return list_runs(self.runs_root)

    @property
    def root(self) -> Path:
        """The runs folder: run ids and adapter sources resolve only inside it."""
        return self.runs_root or runs_root()

    def run(self, run_id: str) -> Run:
        """The run ``run_id`` (an id or a folder) inside the runs folder; ValueError names a missing one."""
        return open_run(run_id, self.root)

    def run_summaries(self) -> list[dict]:
        """One summary per run (status, step, best numbers), newest first: the run history."""
        return [run.summary() for run in self.runs()]

    def run_view(self, run_id: str) -> dict:
        """What the Runs tab shows of one run: its curves, summary, probe table, config and log tail."""
        run = self.run(run_id)
        metrics = run.metrics()
        return {
            "figure": training_figure(metrics, dpo=is_dpo(metrics)),
            "summary": run.summary(),
            "probes": probe_table(run.probes()),
            "config": run.config_path.read_text(),
            "log": run.log_tail(40),
        }

    def compare_runs(self, run_ids: list[str], key: str = "loss") -> tuple[object, list[str], str]:
        """One metric of several runs overlaid: (figure, the metrics the runs have, the one drawn:
        ``key`` when present, else the first)."""
        curves = {run_id: self.run(run_id).metrics() for run_id in run_ids}
        keys = metric_keys(curves)
        key = key if key in keys else (keys[0] if keys else "loss")
        return compare_figure(curves, key), keys, key

    def _sources(self, sources: list[str | None]) -> list[str | None]:
        """Chat columns: the base (None) or a run's adapter or checkpoint inside the runs folder."""
        return [s if s in (None, "", BASE) else run_source(s, self.root) for s in sources]

    def adapter_choices(self) -> list[tuple[str, str]]:
        """(label, adapter folder) for every run with a saved adapter, newest first."""
        out = []
        for run in self.runs():
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
    def chat_stream(self, messages: list[dict], sources: list[str | None], sampling: Sampling):
        """Replies of the sources side by side; the base column is always the adapters' own base.
        ``messages`` is one conversation, or one per column."""

        sources = self._sources(sources)
        base = base_of(sources)
        if base:
            self.chat.ensure_base(base)
        yield from self.chat.stream(messages, sources, sampling)

    # -- playground and evaluation (studio.chat.sampling, arena, compare, evaluate) ----------------------
    def next_token_figure(self, messages: list, sources: list[str | None], labels: list[str], sampling: Sampling):
        """The sampling window: each source's candidates for its reply's first token."""

        sources = self._sources(sources)
        base = base_of(sources)
        if base:
            self.chat.ensure_base(base)
        return distribution_figure(self.chat.distributions(messages, sources, sampling, labels), sampling)

    @property
    def arena_path(self) -> Path:

        return arena_path(self.runs_root)

    def vote(self, prompt: list[dict], answers: list[tuple[str, str]], winner: int, extra: dict | None = None) -> int:

        return record_vote(self.arena_path, prompt, answers, winner, extra)

    def compare(self, prompts: list[str], adapter: str, sampling: Sampling, system: str = "") -> list[dict]:

        adapter = self._sources([adapter])[0]
        self.chat.ensure_base(base_of([adapter]))
        return compare_prompts(self.chat, prompts, adapter, sampling, system)

    def held_out_prompts(self, run_id: str, n: int = 10, train_sample: int = 0) -> list[str]:

        return held_out_prompts(self.run(run_id), n, train_sample)

    def evaluate(self, run_id: str, options=None, adapter: str | None = None, progress=None) -> dict:

        adapter = self._sources([adapter])[0] if adapter else adapter
        return evaluate_run(self.chat, self.run(run_id), options, adapter, progress)

    def eval_results(self, run_id: str) -> dict | None:

        return load_results(self.run(run_id))

    def eval_files(self, run_id: str) -> list[str]:
        """The run's saved evaluation files, to download (eval.json, eval_generations.csv)."""

        return [str(path) for path in result_files(self.run(run_id))]

    def compare_csv(self, run_id: str, rows: list[dict]) -> str:
        """A batch comparison (rows of ``compare``) saved into the run as batch_compare.csv."""

        return str(save_csv(rows, self.run(run_id).path / "batch_compare.csv"))

    def eval_history(self) -> list[dict]:

        return [row for row in (history_row(run) for run in self.runs()) if row]

    def chat_memory(self) -> dict:
        """What the chat engine holds, and whether a training (with its own copy) runs beside it."""
        return {**self.chat.memory(), "training": self.jobs.active}

    def unload_models(self) -> int:
        return self.chat.unload()

    # -- export and the Hub (studio.export.merge, studio.export.card, studio.export.hub) ---------------------------
    def export_zip(self, run_id: str) -> Path:

        return zip_adapter(self.run(run_id))

    def merge(self, run_id: str, dtype: str = "bf16", progress=None):

        run = self.run(run_id)
        return merge(run, merged_dir(run, dtype), dtype, overwrite=True, progress=progress)

    def export_gguf(self, run_id: str, gguf_type: str = "q8_0", sampling: Sampling | None = None, progress=None):
        """A checked GGUF file and Modelfile in <run>/export/gguf-<type>/ (studio.export.gguf)."""

        run = self.run(run_id)
        return export_gguf(
            run, gguf_dir(run, gguf_type), gguf_type, overwrite=True, sampling=sampling, progress=progress
        )

    def model_card(self, run_id: str) -> Path:

        return write_card(self.run(run_id))

    def push(self, run_id: str, repo: str, token: str | None = None, progress=None, **options):
        """Push to the Hub; ``options=ExportConfig(...)`` or single fields (see studio.export.hub.push_run)."""

        return push_run(self.run(run_id), repo, token, progress=progress, **options)


_studio: Studio | None = None


def get_studio() -> Studio:
    global _studio
    if _studio is None:
        _studio = Studio()
    return _studio
