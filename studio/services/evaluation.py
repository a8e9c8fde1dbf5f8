"""The Evaluate tab's door: base versus adapter on held-out rows, saved results and history.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from studio.chat.compare import save_csv
from studio.evaluate.pipeline import HELD_OUT_PROMPTS, evaluate_run, held_out_prompts
from studio.evaluate.report import history_row, load_results, result_files
from studio.runs.directory import Run
from studio.runs.owners import check_change, may_change


class EvaluateDoor:
    def _owned(self, run_id: str, user: str | None, action: str) -> Run:
        """The run, when ``user`` may change it (shared runs are read-only to the others)."""
        return check_change(self.run(run_id, user), user, action)

    def held_out_prompts(
        self, run_id: str, n: int = HELD_OUT_PROMPTS, train_sample: int = 0, user: str | None = None
    ) -> list[str]:
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
