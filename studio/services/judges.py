"""The Evaluate tab's judges: base versus adapter (or two runs) judged by LLMs, checked against
the arena's people's votes, and every verdict to browse.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

from studio.chat.backends import is_endpoint
from studio.evaluate.judge_report import (
    load_judgements,
    load_summary,
    people_note,
    people_rows,
    results_figure,
    results_rows,
    verdict_rows,
)
from studio.evaluate.judges import JudgeOptions, judge_run
from studio.models import loading
from studio.services.generate import check_endpoint


class JudgeDoor:
    def judge(
        self,
        run_id: str,
        judges: list[str],
        options: JudgeOptions | None = None,
        adapter: str | None = None,
        versus: str | None = None,
        train_sample: int = 0,
        progress=None,
        user: str | None = None,
    ) -> dict:
        """Judge the run's adapter against its base (or the run or source ``versus``); the verdicts
        are written into the run, so it must be ``user``'s. A judge may be named by a run id."""
        run = self._owned(run_id, user, "judge")
        adapter = self._sources([adapter], user, chat=False)[0] if adapter else None
        versus = self._side(versus, user) if versus else None
        specs = [self._judge_spec(spec, user) for spec in judges]
        return judge_run(self.chat, run, specs, options, adapter, versus, train_sample, progress, self.arena_path)

    def _judge_spec(self, spec: str, user: str | None) -> str:
        """A judge as the backends take it: a run id becomes its adapter; a model folder must be one
        ``user`` may read (studio.models.loading.local_folder), as in the Train and Data tabs; an
        endpoint, in a studio with logins, only with STUDIO_ENDPOINTS=1."""
        spec = (spec or "").strip()
        if self._is_run_id(spec):
            return self._side(spec, user)
        check_endpoint(spec, user)
        if spec and not is_endpoint(spec) and not spec.lower().endswith(".gguf"):
            loading.local_folder(spec, user)
        return spec

    def _is_run_id(self, name: str) -> bool:
        name = (name or "").strip()
        return bool(name) and "/" not in name and (self.root / name / "config.yaml").exists()

    def _side(self, name: str, user: str | None) -> str:
        """A run id as its adapter folder; an adapter or checkpoint folder as it is (both checked)."""
        name = name.strip()
        source = str(self.run(name, user).adapter_dir) if self._is_run_id(name) else name
        return self._sources([source], user)[0]

    def judge_view(self, run_id: str, user: str | None = None) -> dict | None:
        """The run's last judging, ready to show: tables, chart, note, and every verdict; None if never judged."""
        run = self.run(run_id, user)
        summary = load_summary(run)
        if not summary:
            return None
        lines = load_judgements(run)
        return {
            "summary": summary,
            "results": results_rows(summary),
            "people": people_rows(summary),
            "people_note": people_note(summary),
            "figure": results_figure(summary),
            "verdicts": verdict_rows(lines, "compare"),
            "people_verdicts": verdict_rows(lines, "people"),
            "files": [
                str(run.path / name) for name in ("judge.json", "judgements.jsonl") if (run.path / name).exists()
            ],
        }


__all__ = ["JudgeDoor", "JudgeOptions"]
