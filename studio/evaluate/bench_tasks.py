"""Which benchmark tasks there are, and how the harness loads them.

    python -m studio eval --bench list            # the offline tasks first, then the standard ones
    catalogue()                                   # -> [BenchTask(name, about, offline), ...]
    manager, specs = resolve(["studio_facts", "arc_easy"])   # for lm_eval.simple_evaluate

Offline tasks are the studio's own, in ``assets/benchmarks/``, written in the harness's YAML task
format with their data beside them (``dataset_path: json``), so tests, CI and a machine without
the Hub run the same path as the standard tasks. ``datasets`` reads a relative ``data_files`` path
from the current folder, so the studio hands the harness each offline task as its YAML with those
paths made absolute (an inline config, which ``TaskManager.load`` accepts).

Standard tasks run by name and fetch their data from the Hub. Indexing every task the harness
ships reads some fifteen thousand YAML files (seconds to tens of seconds), so the names people ask
for first (:data:`STANDARD`) are indexed from their own folder only; any other name the harness
knows loads through the full index, built once per process.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import lm_eval.tasks
import yaml
from lm_eval.tasks import TaskManager

from studio.data.sources import hub_offline

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "benchmarks"
HARNESS_TASKS = Path(lm_eval.tasks.__file__).resolve().parent

# The standard tasks people ask for first: name -> (its folder in the harness, what it measures).
STANDARD = {
    "mmlu": ("mmlu/default", "57 subjects of exam questions, 4 choices (a group of 57 tasks)"),
    "hellaswag": ("hellaswag", "commonsense: the likeliest ending of a short scene, 4 endings"),
    "arc_easy": ("arc", "grade-school science questions, the easy set, multiple choice"),
    "arc_challenge": ("arc", "grade-school science questions, the hard set, multiple choice"),
    "gsm8k": ("gsm8k", "grade-school math word problems, 5-shot, the generated answer matched"),
    "truthfulqa_mc2": ("truthfulqa", "questions people often answer falsely: probability on the true answers"),
    "winogrande": ("winogrande", "commonsense: which of two people a pronoun means"),
    "piqa": ("piqa", "physical commonsense: the better of two ways to do something"),
}


@dataclass(frozen=True)
class BenchTask:
    name: str
    about: str
    offline: bool


def _offline_manager() -> TaskManager:
    return TaskManager(include_path=str(ASSETS), include_defaults=False)


@functools.cache
def _manager(folders: tuple[str, ...] | None) -> TaskManager:
    """A task index of the offline tasks plus ``folders`` of the harness (None: all of its tasks)."""
    if folders is None:
        log.info("indexing every task of the harness (once per process)")
        return TaskManager(include_path=str(ASSETS))
    return TaskManager(include_path=[str(ASSETS), *(str(HARNESS_TASKS / f) for f in folders)], include_defaults=False)


def offline_tasks() -> list[BenchTask]:
    manager = _manager(())
    out = []
    for name in manager.all_subtasks:
        config = yaml.safe_load(Path(manager.task_index[name].yaml_path).read_text(encoding="utf-8"))
        out.append(BenchTask(name, (config.get("metadata") or {}).get("about", ""), True))
    return out


def catalogue(everything: bool = False) -> list[BenchTask]:
    """The offline tasks, then the standard ones; ``everything``: every other name the harness knows."""
    tasks = offline_tasks() + [BenchTask(name, about, False) for name, (_, about) in STANDARD.items()]
    if everything:
        known = {t.name for t in tasks}
        tasks += [BenchTask(name, "", False) for name in _manager(None).all_tasks if name not in known]
    return tasks


def parse_tasks(text: str | list[str]) -> list[str]:
    """Task names from 'a,b c' or a list, in order, each once."""
    words = text if isinstance(text, list) else [text]
    names = [n.strip() for w in words for n in str(w).replace(",", " ").split()]
    return list(dict.fromkeys(n for n in names if n))


def _available() -> str:
    offline = ", ".join(t.name for t in offline_tasks())
    return f"offline: {offline}; standard (need the Hub): {', '.join(STANDARD)}"


def resolve(names: list[str]) -> tuple[TaskManager, list]:
    """A task manager and the specs to pass to ``simple_evaluate``; ValueError names an unknown task
    or one that needs the Hub while it cannot be reached, with what is available."""
    if not names:
        raise ValueError(f"benchmark tasks: name at least one ({_available()})")
    offline = {t.name for t in offline_tasks()}
    online = [n for n in names if n not in offline]
    if all(n in STANDARD for n in online):
        manager = _manager(tuple(sorted({STANDARD[n][0] for n in online})))
    else:
        manager = _manager(None)
    unknown = [n for n in online if n not in manager.all_tasks]
    if unknown:
        raise ValueError(
            f"benchmark task {', '.join(unknown)}: the harness knows no such task ({_available()}; "
            "`python -m studio eval --bench list --all` prints every name)"
        )
    if online and not hub_offline() and not _hub_reachable():
        raise ValueError(
            f"benchmark task {', '.join(online)} needs its data from the Hugging Face Hub, which cannot be reached "
            f"from this machine; the offline tasks run anywhere: {', '.join(sorted(offline))} "
            "(with HF_HUB_OFFLINE=1, data already in the datasets cache is used)"
        )
    return manager, [_offline_spec(manager, n) if n in offline else n for n in names]


def _hub_reachable() -> bool:
    from studio.models.loading import hub_reachable  # lazy: cli-startup - loads torch, only when a task needs the Hub

    return hub_reachable()


def _offline_spec(manager: TaskManager, name: str) -> dict:
    """The task's YAML as an inline config, its data files made absolute (relative to the YAML)."""
    path = Path(manager.task_index[name].yaml_path)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    files = config.get("dataset_kwargs", {}).get("data_files")
    if isinstance(files, dict):
        config["dataset_kwargs"]["data_files"] = {split: str(path.parent / f) for split, f in files.items()}
    elif isinstance(files, str):
        config["dataset_kwargs"]["data_files"] = str(path.parent / files)
    return config
