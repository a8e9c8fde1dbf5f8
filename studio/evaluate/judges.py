"""LLM judges: which answers are better, base's or adapter's, on the run's held-out prompts.

    python -m studio eval --run runs/<id> --judge http://127.0.0.1:8000/v1 --judge smollm2 [--json]
    judge_run(engine, open_run("runs/<id>"), ["http://127.0.0.1:8000/v1", "smollm2"], JudgeOptions())

Both sides answer each held-out prompt greedily through the studio's engine (the base and the
run's adapter, or the run against another run on the same base: ``versus``). Each judge then
sees every pair twice, the answers in one order and then swapped, so a judge that favours a
position cancels out, and how often its verdict flips with the order is its position-bias rate
(studio.evaluate.agreement). With several judges, a jury votes by majority.

The same judges then decide people's votes from the chat arena (``<runs>/arena/preferences.jsonl``)
and the report says how often each agreed with people, with Cohen's kappa, against the guides' 80%.

Every ask is appended to ``<run>/judgements.jsonl`` as it is answered (the question, both
answers, the judge's whole reply as its rationale, the verdict read from it or why none could
be); ``<run>/judge.json`` holds the summary (studio.evaluate.judge_report). A judge that fails
or times out stops the run there: what was judged is kept and ``stopped`` says where.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from studio.chat.arena import arena_path
from studio.chat.backends import open_backend
from studio.chat.engine import ChatEngine
from studio.chat.sampling import Sampling
from studio.chat.sources import base_of
from studio.evaluate.judge_report import JUDGEMENTS, SUMMARY, summarize
from studio.evaluate.options import JudgeOptions
from studio.evaluate.pipeline import held_out_prompts
from studio.evaluate.verdicts import judge_messages, outcome, parse_verdict
from studio.models import loading
from studio.runs.directory import Run

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
MAX_JUDGES = 9


class _Stopped(Exception):
    """A judge failed: the run stops here, keeping what was judged."""


class _Asker:
    """Asks judges, appends every ask to the judgements file, and says where a failure stopped it."""

    def __init__(self, path: Path, backends: list, options: JudgeOptions):
        self.path, self.backends, self.options = path, backends, options
        path.write_text("", encoding="utf-8")  # a new judging replaces the last one's verdicts

    def ask_pair(self, record: dict, question: str, answers: tuple[str, str], where: str) -> None:
        """Every judge, on the answers in both orders (order 0: the first answer is A)."""
        for backend in self.backends:
            for order in (0, 1):
                a, b = answers if order == 0 else answers[::-1]
                try:
                    reply = backend.complete(
                        judge_messages(question, a, b), max_new_tokens=self.options.judge_tokens, temperature=0
                    )
                except ValueError as exc:
                    raise _Stopped(f"{backend.name} failed on {where}, order {order + 1} of 2: {exc}") from None
                verdict, why = parse_verdict(reply)
                line = {**record, "judge": backend.name, "order": order, "verdict": verdict}
                line.update(outcome=outcome(verdict, order == 0), reply=reply, unparsed=why)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def side_label(source: str | None) -> str:
    """A side's name in reports: base, a run's id, or the run's id and checkpoint."""
    if not source:
        return "base"
    path = Path(source)
    if path.name == "adapter":
        return path.parent.name
    if path.parent.name == "checkpoints":
        return f"{path.parent.parent.name} @ {path.name}"
    return str(source)


def question_of(prompt: list[dict]) -> str:
    """What the judge is told was asked: the question, or the whole conversation when it had turns."""
    turns = [m for m in prompt if m.get("role") != "system"]
    if len(turns) == 1:
        return str(turns[0].get("content", ""))
    return "\n".join(f"{m['role']}: {m.get('content', '')}" for m in turns)


def read_votes(path: Path, limit: int) -> list[dict]:
    """The people's votes in the arena file (at most ``limit``), each oriented: on even lines the
    person's choice is shown first, on odd lines second, so both outcomes occur among people's
    labels and kappa is defined (a rater who always says "first" leaves it undefined)."""
    if limit <= 0 or not path.exists():
        return []
    votes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("prompt") and row.get("chosen") and row.get("rejected"):
            votes.append(row)
    out = []
    for i, row in enumerate(votes[:limit]):
        chosen_first = i % 2 == 0
        answers = (row["chosen"], row["rejected"]) if chosen_first else (row["rejected"], row["chosen"])
        out.append(
            {
                "question": question_of(row["prompt"]),
                "answers": answers,
                "people": "first" if chosen_first else "second",
                "pair_id": row.get("pair_id", ""),
            }
        )
    return out


def _answers(engine: ChatEngine, prompts: list[str], sources: list, options: JudgeOptions, progress) -> list:
    greedy = Sampling(greedy=True, max_new_tokens=options.answer_tokens)
    out = []
    with engine.lock:  # as evaluation does: the chat waits, so it cannot swap the base mid-way
        for i, prompt in enumerate(prompts):
            progress(0.05 + 0.3 * i / len(prompts), f"both sides answer held-out prompt {i + 1} of {len(prompts)}")
            out.append(tuple(engine.replies([{"role": "user", "content": prompt}], sources, greedy)))
    return out


def _open_judges(specs: list[str], engine: ChatEngine, source_root) -> list:
    specs = [s.strip() for s in specs if s and s.strip()]
    if not specs:
        raise ValueError("judge: name at least one (a model id or folder, a .gguf file, or an http(s):// URL)")
    if len(set(specs)) < len(specs):
        raise ValueError("judge: the same judge is named twice; a jury needs different judges")
    if len(specs) > MAX_JUDGES:
        raise ValueError(f"judge: {len(specs)} named; a jury has at most {MAX_JUDGES}")
    return [open_backend(spec, engine, source_root) for spec in specs]


def judge_run(
    engine: ChatEngine,
    run: Run,
    judges: list[str],
    options: JudgeOptions | None = None,
    adapter: str | None = None,
    versus: str | None = None,
    train_sample: int = 0,
    progress: Progress | None = None,
    arena: str | Path | None = None,
) -> dict:
    """Judge the run's adapter (or ``adapter``) against its base (or the source ``versus``);
    save every verdict and the summary into the run and return the summary."""
    options = options or JudgeOptions()
    progress = progress or (lambda fraction, message: log.info("%3.0f%% %s", 100 * fraction, message))
    second = adapter or str(run.adapter_dir)
    if not adapter and not run.has_adapter():
        raise ValueError(f"run {run.id} has no saved adapter yet; wait for it to finish or pick a checkpoint")
    if run.config().train.method == "reward":
        raise ValueError(
            f"run {run.id} is a reward model: it scores answers and writes none, so there is nothing to judge"
        )
    started = time.time()
    progress(0.0, "reading the held-out prompts")
    prompts = held_out_prompts(run, options.judge_prompts, train_sample)
    if not prompts:
        raise ValueError(f"run {run.id}: its held-out rows hold no user prompt to answer")
    sides = [versus or None, second]
    with engine.lock:  # the answers come from the run's base; judges on it share the engine
        engine.ensure_base(base_of(sides) or loading.base_model_id(run.config().model.model))
    progress(0.02, "opening the judges")
    backends = _open_judges(judges, engine, engine.source_root)
    answers = _answers(engine, prompts, sides, options, progress)
    labels = [side_label(versus), side_label(second)]
    asker = _Asker(run.path / JUDGEMENTS, backends, options)
    votes = read_votes(Path(arena) if arena else arena_path(run.path.parent), options.people_votes)
    stopped = _ask_all(asker, prompts, answers, votes, progress)
    summary = summarize(_read_lines(asker.path), [b.name for b in backends], labels, len(votes))
    summary.update(
        run=run.id,
        sides=labels,
        sources=[s or "base" for s in sides],
        prompts=len(prompts),
        stopped=stopped,
        options=asdict(options),
        created=time.time(),
        seconds=round(time.time() - started, 2),
    )
    run.write_json(SUMMARY, summary)
    progress(1.0, "stopped: " + stopped if stopped else "done")
    return summary


def _ask_all(asker: _Asker, prompts: list[str], answers: list, votes: list[dict], progress: Progress) -> str | None:
    """The held-out pairs, then people's votes; None, or where a failing judge stopped it."""
    try:
        for i, (prompt, pair) in enumerate(zip(prompts, answers, strict=True)):
            progress(0.35 + 0.4 * i / len(prompts), f"judges compare pair {i + 1} of {len(prompts)}")
            record = {"task": "compare", "item": i, "question": prompt, "answers": list(pair)}
            asker.ask_pair(record, prompt, pair, f"pair {i + 1} of {len(prompts)}")
        for i, vote in enumerate(votes):
            progress(0.75 + 0.25 * i / len(votes), f"judges decide people's vote {i + 1} of {len(votes)}")
            record = {"task": "people", "item": i, "question": vote["question"], "answers": list(vote["answers"])}
            record.update(people=vote["people"], pair_id=vote["pair_id"])
            asker.ask_pair(record, vote["question"], vote["answers"], f"people's vote {i + 1} of {len(votes)}")
    except _Stopped as exc:
        log.warning("judging stopped: %s (the verdicts so far are kept)", exc)
        return str(exc)
    return None


def _read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
