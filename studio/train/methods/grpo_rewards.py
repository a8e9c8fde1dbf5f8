"""The built-in GRPO reward functions: scores a user can trust without writing code.

    funcs, weights = reward_functions(config.grpo)    # the ones with a weight above 0
    make_exact_answer("answer")(["7 x 6 = 42"], answer=["42"])   # [1.0]

Each function has TRL's reward signature ``f(completions, **columns) -> list[float]``: a
completion is a string, or for chat prompts a list holding the one assistant message; dataset
columns arrive as keyword lists (the reference answers among them). Nothing here runs user code:
the only user input is a regular expression, compiled (and refused with its field named) before
training. A reward model trained in the studio (a run of method reward) is one more function:
its score of the prompt plus the answer (studio.models.scorer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from studio.models.scorer import RewardScorer
from studio.runs.directory import Run, open_run
from studio.schema import ConfigError, Problem

ANSWER_MARK = re.compile(r"answer\s*[:=]", re.IGNORECASE)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def completion_text(completion) -> str:
    """The text of one completion, plain or conversational."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    if isinstance(completion, dict):
        return completion.get("content", "")
    return str(completion)


def _normal(text: str) -> str:
    return " ".join(text.strip().rstrip(".").replace(",", "").split()).casefold()


def final_answer(text: str) -> str:
    """What the answer says: the text after the last 'Answer:' (or 'answer ='), else the last line."""
    marks = list(ANSWER_MARK.finditer(text))
    if marks:
        text = text[marks[-1].end() :]
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _normal(lines[0] if marks and lines else lines[-1] if lines else "")


def answer_matches(text: str, reference) -> bool:
    """The final answer equals the reference; a numeric reference is compared with the last number."""
    answer, want = final_answer(text), _normal(str(reference))
    if answer == want:
        return True
    if NUMBER.fullmatch(want):
        numbers = NUMBER.findall(answer)
        return bool(numbers) and float(numbers[-1]) == float(want)
    return False


def make_exact_answer(column: str) -> Callable:
    def exact_answer(completions, **columns) -> list[float]:
        references = columns[column]
        return [float(answer_matches(completion_text(c), ref)) for c, ref in zip(completions, references, strict=True)]

    return exact_answer


def make_format_check(pattern: str) -> Callable:
    compiled = re.compile(pattern, re.DOTALL)

    def format_check(completions, **_) -> list[float]:
        return [float(compiled.fullmatch(completion_text(c)) is not None) for c in completions]

    return format_check


def make_length_target(target: int) -> Callable:
    def length_target(completions, **_) -> list[float]:
        return [max(0.0, 1.0 - abs(len(completion_text(c)) - target) / target) for c in completions]

    return length_target


def no_repeat(completions, **_) -> list[float]:
    """The share of distinct word 3-grams (words for shorter texts): 1 when nothing repeats."""
    scores = []
    for c in completions:
        words = completion_text(c).split()
        grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)] or [(w,) for w in words]
        scores.append(len(set(grams)) / len(grams) if grams else 0.0)
    return scores


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` does not compile, or None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"{pattern!r} is not a valid regular expression: {exc}"
    return None


def reward_run(ref: str, root: str | Path | None) -> Run:
    """The reward-model run ``ref`` names (an id in the runs folder ``root``); ValueError says why not."""
    if not ref.strip():
        raise ValueError("name the reward-model run (a completed run of method reward) or set reward_model to 0")
    run = open_run(ref.strip(), root)
    config = run.config()
    if config.train.method != "reward":
        raise ValueError(f"run {run.id} trained {config.train.method}, not a reward model; pick a run of method reward")
    if not run.has_adapter():
        raise ValueError(f"run {run.id} has no saved reward model yet; wait for it to finish")
    return run


def reward_run_problem(ref: str, root: str | Path | None = None) -> str | None:
    """Why ``ref`` cannot serve as the GRPO reward model, or None."""
    try:
        reward_run(ref, root)
    except ValueError as exc:
        return str(exc).removeprefix("run: ")
    return None


def reward_model_check(config, root: str | Path | None) -> None:
    """Before a GRPO run starts: its reward-model run exists in ``root``, is a reward model, and is saved."""
    if config.train.method == "grpo" and config.grpo.reward_model > 0:
        problem = reward_run_problem(config.grpo.reward_model_run, root)
        if problem:
            raise ConfigError([Problem("reward_model_run", problem)])


def conversation(prompt, completion) -> list[dict]:
    """The prompt's messages (or a plain prompt as the user's turn) followed by the answer."""
    turns = list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]
    return [*turns, {"role": "assistant", "content": completion_text(completion)}]


def make_reward_model(scorer) -> Callable:
    def reward_model(completions, prompts=None, **_) -> list[float]:
        return scorer.score([conversation(p, c) for p, c in zip(prompts, completions, strict=True)])

    return reward_model


def reward_functions(grpo, root: str | Path | None = None) -> tuple[list[Callable], list[float]]:
    """The reward functions the GRPO section turns on (weight above 0), named for the logs, with
    their weights. ``root``: the runs folder the reward-model run is looked up in."""

    def reward_model():
        return make_reward_model(RewardScorer.from_run_folder(reward_run(grpo.reward_model_run, root).path))

    chosen = [
        (grpo.reward_exact, "exact_answer", lambda: make_exact_answer(grpo.answer_column)),
        (grpo.reward_format, "format", lambda: make_format_check(grpo.format_regex)),
        (grpo.reward_length, "length", lambda: make_length_target(grpo.length_target)),
        (grpo.reward_no_repeat, "no_repeat", lambda: no_repeat),
        (grpo.reward_model, "reward_model", reward_model),
    ]
    funcs, weights = [], []
    for weight, name, make in chosen:
        if weight > 0:
            func = make()
            func.__name__ = name  # TRL logs rewards/<name>/mean and /std
            funcs.append(func)
            weights.append(float(weight))
    return funcs, weights
