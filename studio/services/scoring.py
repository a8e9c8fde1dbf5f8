"""The Data tab's scorers: an LLM judge or a reward run scores the loaded rows; a threshold
filters them through the clean path into a cleaned dataset with its report.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

import json

from studio.data.clean import CleanOptions, companion_paths, default_output, save
from studio.data.rowtext import preview_text
from studio.evaluate.row_scores import ScoreOptions, clean_by_score, reward_run_folder, score_figure, score_rows


class ScoreDoor:
    def score_data(self, params: dict, scorer: str, options: ScoreOptions | None = None, progress=None, user=None):
        """Score the rows of the data loaded with ``params`` (source, format, columns, system).

        A run id names a run ``user`` may see: a reward run scores with its head, another run's
        adapter judges."""
        data = self.load_data(params["source"], params["format"], params["columns"], params["system"], user)
        scorer = (scorer or "").strip()
        if self._is_run_id(scorer):
            run = self.run(scorer, user)
            scorer = str(run.path) if reward_run_folder(str(run.path), None) else self._side(scorer, user)
        else:
            scorer = self._judge_spec(scorer, user)
        return score_rows(self.chat, data, scorer, options, progress, self.root)

    def score_view(self, params: dict, scored: dict, threshold: float | None = None, user=None) -> dict:
        """The histogram and the rows, lowest score first (unscored last), for the loaded data."""
        data = self.load_data(params["source"], params["format"], params["columns"], params["system"], user)
        rows = sorted(
            zip(data.row_numbers, data.rows, scored["scores"], scored["notes"], strict=True),
            key=lambda r: (r[2] is None, r[2] if r[2] is not None else 0),
        )
        table = [[n, "-" if s is None else s, note[:300], preview_text(row)] for n, row, s, note in rows]
        return {
            "figure": score_figure(scored["scores"], threshold, f"{scored['scorer']}:"),
            "table": {"headers": ["row", "score", "judge's reason / why no score", "row text"], "data": table},
        }

    def clean_scored(
        self, params: dict, scored: dict, threshold: float, unscored: str, options: CleanOptions, model: str, user=None
    ) -> dict:
        """Drop rows below ``threshold`` and clean the rest (the Data tab's clean options), saved
        with its report and a scores file beside it; the report as a dict with the files."""
        data = self.load_data(params["source"], params["format"], params["columns"], params["system"], user)
        if scored.get("fingerprint") != data.fingerprint:
            raise ValueError(f"{params['source']} changed since it was scored; score it again")
        result = clean_by_score(data, scored["scores"], threshold, unscored, options, self.tokenizer(model, user))
        files = save(result, default_output(params["source"], result.fingerprint))
        scores_path = companion_paths(files["train"])["train"].with_suffix(".scores.jsonl")
        with open(scores_path, "w", encoding="utf-8") as fh:
            for number, score, note in zip(data.row_numbers, scored["scores"], scored["notes"], strict=True):
                fh.write(json.dumps({"row": number, "score": score, "scorer": scored["scorer"], "note": note}) + "\n")
        return result.to_json() | {"files": {**files, "scores": str(scores_path)}, "threshold": threshold}


__all__ = ["ScoreDoor", "ScoreOptions"]
