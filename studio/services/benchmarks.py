"""The Evaluate tab's Benchmarks door: the tasks, Start, the progress snapshot, Stop, the saved results.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object. One
benchmark runs at a time, in the background (studio.evaluate.bench_job); the tab polls
``bench_progress``. The names below are what the Benchmarks panel needs besides the methods.
"""

from __future__ import annotations

from studio.evaluate.bench_job import BenchJob, BenchSnapshot
from studio.evaluate.bench_options import BenchOptions
from studio.evaluate.bench_report import bench_figure, bench_table, summary
from studio.evaluate.bench_results import load_benchmarks
from studio.evaluate.bench_tasks import BenchTask, catalogue, parse_tasks, resolve
from studio.evaluate.benchmarks import run_benchmarks
from studio.runs.owners import visible

__all__ = ["BenchDoor", "BenchOptions", "BenchSnapshot", "bench_figure", "bench_table"]


class BenchDoor:
    @property
    def bench_job(self) -> BenchJob:
        if "_bench_job" not in self.__dict__:
            self._bench_job = BenchJob()
        return self._bench_job

    def bench_tasks(self, everything: bool = False) -> list[BenchTask]:
        """The offline tasks first, then the standard ones (``everything``: every name the harness knows)."""
        return catalogue(everything)

    def start_benchmarks(
        self, run_id: str, options: BenchOptions, adapter: str | None = None, user: str | None = None
    ) -> BenchSnapshot:
        """Start base vs adapter on the tasks in the background; refusals (an unknown task, the Hub
        out of reach, a run without an adapter, one running already) raise before anything starts."""
        run = self._owned(run_id, user, "benchmark")
        adapter = self._sources([adapter], user, chat=False)[0] if adapter else adapter
        resolve(parse_tasks(options.tasks))  # an unknown task or an unreachable Hub is said now
        if not adapter and not run.has_adapter():
            raise ValueError(f"run {run.id} has no saved adapter yet; wait for it to finish or pick a checkpoint")
        self.bench_job.start(
            lambda progress, stop: run_benchmarks(self.chat, run, options, adapter, progress, stop), run.id, user
        )
        return self.bench_job.snapshot()

    def bench_progress(self, user: str | None = None) -> BenchSnapshot:
        """The benchmark's snapshot when ``user`` may see its run, else an idle one."""
        snap = self.bench_job.snapshot()
        if snap.run_id and not self._may_see(snap.run_id, user):
            return BenchSnapshot(message="Another person's benchmark is running." if snap.active else "")
        return snap

    def _may_see(self, run_id: str, user: str | None) -> bool:
        try:
            return visible(self.run(run_id, None), user)
        except ValueError:
            return False

    def stop_benchmarks(self, user: str | None = None) -> bool:
        """Stop the running benchmark when it is ``user``'s; finished tasks are kept."""
        snap = self.bench_job.snapshot()
        return snap.active and (user is None or snap.owner == user) and self.bench_job.stop()

    def bench_results(self, run_id: str, user: str | None = None) -> dict | None:
        """The run's benchmarks.json (every task benchmarked so far), or None."""
        return load_benchmarks(self.run(run_id, user))

    def bench_summary(self, run_id: str, user: str | None = None) -> str:
        """One line for the Runs tab: each task's first metric, base -> adapter ('' when none)."""
        return summary(self.bench_results(run_id, user))
