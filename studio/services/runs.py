"""The Runs tab's door: the runs a person may see, their curves, summaries, sharing and sources.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

from pathlib import Path

from studio.chat.sources import BASE
from studio.evaluate.bench_report import summary
from studio.evaluate.bench_results import load_benchmarks
from studio.paths import runs_root
from studio.runs.curves import compare_figure, is_dpo, metric_keys, training_figure
from studio.runs.dashboards import dashboard
from studio.runs.diff import config_differences
from studio.runs.directory import Run, list_runs, not_a_source, open_run, run_source
from studio.runs.metrics import probe_table
from studio.runs.owners import check_change, check_visible, is_shared, may_change, owner_of, share, visible


class RunsDoor:
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
            "summary": self._summary(run) | self._bench_line(run),
            "probes": probe_table(run.probes()),
            "config": run.config_path.read_text(),
            "log": run.log_tail(40),
            "tracker": dashboard(run.path),  # the tracker it also logged to and how to open it, or None
        }

    @staticmethod
    def _bench_line(run: Run) -> dict:
        """Each benchmarked task's first metric, base -> adapter (benchmarks.json), when there are any."""
        line = summary(load_benchmarks(run))
        return {"benchmarks": line} if line else {}

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
