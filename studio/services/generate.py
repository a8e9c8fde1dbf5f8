"""The Data tab's door to data from models: synthetic rows from a teacher, pairs from AI feedback.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.

A teacher, sampler or judge is named as on the command line (studio.chat.backends): a model, a
run's adapter (one ``user`` may see), a GGUF, or an http(s) endpoint. Endpoints make the server
send requests, so a studio with logins (several people) takes them only when its operator sets
``STUDIO_ENDPOINTS=1``. One generation at a time per person; Stop ends it after the current row,
keeping what was made. Files go beside the cleaned datasets, named by their content.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from studio.chat.backends import is_endpoint, open_backend
from studio.data.clean import default_output
from studio.data.dataset import fingerprint
from studio.generate.pairs import JuryScorer, PairOptions, RewardRunScorer, make_pairs, prompts_of, save_pairs
from studio.generate.synthetic import GenerateOptions, generate
from studio.models import loading
from studio.runs.owners import LOCAL


def check_endpoint(spec: str, user: str | None) -> None:
    """Refuse an endpoint to a person of a studio with logins unless the operator allows them: it
    makes the server send requests. The one rule for teachers, samplers, judges and scorers."""
    if is_endpoint(spec) and user not in (None, LOCAL) and os.environ.get("STUDIO_ENDPOINTS") != "1":
        raise ValueError(
            "this shared studio does not call outside endpoints; its operator can allow them "
            "with STUDIO_ENDPOINTS=1, or name a model or a run's adapter"
        )


class GenerateDoor:
    def _stop_event(self, user: str | None) -> threading.Event:
        return self.generation_stops.setdefault(user or LOCAL, threading.Event())

    def stop_generating(self, user: str | None = None) -> None:
        self._stop_event(user).set()

    def backend(self, spec: str, user: str | None = None):
        """The backend ``spec`` names, as ``user`` may reach it (see the module docstring)."""
        spec = (spec or "").strip()
        if is_endpoint(spec):
            check_endpoint(spec, user)
            return open_backend(spec)
        path = Path(spec).expanduser()
        if path.is_absolute() or spec.startswith("."):
            resolved = path.resolve()
            if resolved.is_relative_to(self.root.resolve()):
                spec = self._source(spec, user, chat=True)  # a run's adapter: only one ``user`` may see
            else:
                loading.local_folder(spec, user)  # a folder ``user`` may not read is refused here
        return open_backend(spec, engine=self.chat, source_root=self.root)

    def generate_rows(self, seed_source: str, teacher: str, options: GenerateOptions, user=None, progress=None):
        """(result, saved path or "") of a synthetic generation from ``seed_source``'s rows."""
        seeds = self.load_data(seed_source, user=user).rows
        stop = self._stop_event(user)
        stop.clear()
        result = generate(seeds, self.backend(teacher, user), options, progress, stop)
        if not result.rows:
            return result, ""
        out = _named(seed_source, "generated", result.rows)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.rows))
        out.with_suffix(".report.json").write_text(json.dumps(result.report(), indent=2))
        return result, str(out)

    def preference_pairs(
        self,
        prompts_source: str,
        sampler: str,
        judges: list[str],
        reward_run: str = "",
        options: PairOptions | None = None,
        user=None,
        progress=None,
    ):
        """(result, files) of pairs from ``prompts_source``'s prompts, scored by judges or a reward run."""
        if bool([j for j in judges if j.strip()]) == bool(reward_run):
            raise ValueError("score with judges or with a reward-model run: one of them")
        prompts = prompts_of(self.load_data(prompts_source, user=user).rows)
        scorer = (
            RewardRunScorer(self.run(reward_run, user).path)
            if reward_run
            else JuryScorer([self.backend(j, user) for j in judges if j.strip()])
        )
        stop = self._stop_event(user)
        stop.clear()
        result = make_pairs(prompts, self.backend(sampler, user), scorer, options, progress, stop)
        if not result.pairs:
            return result, {}
        return result, save_pairs(result, _named(prompts_source, "pairs", result.pairs))


def _named(source: str, what: str, rows: list[dict]) -> Path:
    place = default_output(source, fingerprint(rows))
    place.parent.mkdir(parents=True, exist_ok=True)
    return place.with_name(place.name.replace("-clean-", f"-{what}-"))
