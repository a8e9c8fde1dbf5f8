"""Records each GRPO step's sampled answers and their rewards (studio.runs.completions).

    log = CompletionLog(run_dir, weights)
    funcs = [log.wrap(f) for f in funcs]      # the same scores go to TRL, and to completions.jsonl
    log.trainer = trainer                     # tells training batches from evaluation ones

TRL calls every reward function on the same batch in turn; when the last has scored it, the
batch's answers are written with every function's score, the weighted total and the step it was
sampled for (the trainer's global step + 1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from studio.runs import completions
from studio.train.methods.grpo_rewards import completion_text


def prompt_text(prompt) -> str:
    if isinstance(prompt, list):
        return next((m.get("content", "") for m in reversed(prompt) if m.get("role") == "user"), "")
    return str(prompt)


class CompletionLog:
    def __init__(self, run_dir: str | Path, weights: list[float]):
        self.run_dir, self.weights = Path(run_dir), weights
        self.names: list[str] = []
        self.trainer = None
        self._batch: tuple | None = None
        self._scores: dict[str, list[float]] = {}

    def wrap(self, func: Callable) -> Callable:
        name = func.__name__
        self.names.append(name)

        def recorded(completions=None, prompts=None, trainer_state=None, **columns):
            scores = func(completions=completions, prompts=prompts, **columns)
            self._collect(name, prompts, completions, list(scores), trainer_state)
            return scores

        recorded.__name__ = name
        return recorded

    def _collect(self, name, prompts, answers, scores, state) -> None:
        key = (id(answers), getattr(state, "global_step", 0))
        if key != self._batch:
            self._batch, self._scores = key, {}
        self._scores[name] = scores
        if len(self._scores) < len(self.names):
            return
        model = getattr(self.trainer, "model", None)
        mode = "eval" if model is not None and not model.training else "train"
        step = getattr(state, "global_step", 0) + (mode == "train")
        rows = []
        for i, (prompt, answer) in enumerate(zip(prompts or [""] * len(answers), answers, strict=True)):
            rewards = {n: float(self._scores[n][i]) for n in self.names}
            total = sum(w * rewards[n] for n, w in zip(self.names, self.weights, strict=True))
            text = {"prompt": prompt_text(prompt), "completion": completion_text(answer)}
            rows.append({"step": step, "mode": mode, **text, "rewards": rewards, "total": total})
        completions.append(self.run_dir, rows)
        self._batch, self._scores = None, {}
