"""The process-wide service object the UI holds: the one job manager and the one chat engine.

UI handlers call these methods and nothing deeper; each returns plain data (dataclasses,
dicts, plotly figures) and raises ValueError with a message meant for the user.

Methods that touch runs take ``user``: the signed-in person the UI got from the request, whose
own runs (and the shared ones, read-only) they reach; studio.runs.owners holds the rule. None is
the operator (scripts, tests): every run. A Start while a training runs waits in the training
queue (studio.train.jobs.queue) instead of being refused.

This module is the UI's one door: ``studio.ui`` imports only from here, ``studio.config`` and
``studio.schema`` (tests/test_layers.py reads the imports). The names re-exported below are the
option dataclasses and pure render helpers (figures, tables, file writers) the tabs need.

The methods live by concern, one door per module, each a base of ``Studio`` below (a new concern
adds a module and a base):

- ``data``: the Data tab's tokenizers, loading a dataset a person may read, the preview;
- ``generate``: synthetic rows from a teacher and pairs from AI feedback (the Data tab);
- ``scoring``: an LLM judge or a reward run scores the loaded rows; a threshold filters them;
- ``training``: the Train tab's Start (or queue), Stop, Resume, the progress snapshot, the review;
- ``runs``: the runs a person may see, their curves, summaries, sharing and sources;
- ``chat``: side-by-side replies, the sampling window, arena votes, batch compare;
- ``evaluation``: base versus adapter on held-out rows, saved results and history;
- ``benchmarks``: the Evaluate tab's benchmarks, started in the background and polled;
- ``judges``: base versus adapter judged by LLMs, checked against the arena's people's votes;
- ``export``: zip, merge, GGUF, model card and the Hub; only a run's owner.
"""

from __future__ import annotations

import threading
from pathlib import Path

from studio.chat.arena import count_pairs
from studio.chat.compare import parse_prompts
from studio.chat.engine import ChatEngine
from studio.chat.sampling import Sampling
from studio.data.clean import CleanOptions, clean, default_output, save
from studio.data.preview import PREVIEW_ROWS
from studio.data.stats import length_figure
from studio.evaluate.judge_report import VERDICT_HEADERS
from studio.evaluate.pipeline import EvalOptions, NoValidationSplit
from studio.evaluate.report import results_figure, results_table
from studio.export.hub import RepoExists, token_hint
from studio.generate.options import GenerateOptions, PairOptions
from studio.generate.pairs import margin_figure
from studio.launch import remote
from studio.runs.curves import is_dpo, placeholder_figure, training_figure
from studio.runs.metrics import probe_table
from studio.runs.owners import LOCAL
from studio.services.benchmarks import BenchDoor
from studio.services.chat import ChatDoor
from studio.services.data import DataDoor
from studio.services.evaluation import EvaluateDoor
from studio.services.export import ExportDoor
from studio.services.generate import GenerateDoor
from studio.services.judges import JudgeDoor, JudgeOptions
from studio.services.runs import RunsDoor
from studio.services.scoring import ScoreDoor, ScoreOptions
from studio.services.training import TrainDoor
from studio.train import guide
from studio.train.checks import optimizer_choices
from studio.train.command_line import command_text
from studio.train.jobs.manager import JobManager
from studio.train.jobs.progress import duration
from studio.train.jobs.queue import QueueFull, TrainingQueue

__all__ = [
    "VERDICT_HEADERS",
    "PREVIEW_ROWS",
    "LOCAL",
    "QueueFull",
    "CleanOptions",
    "EvalOptions",
    "GenerateOptions",
    "PairOptions",
    "JudgeOptions",
    "NoValidationSplit",
    "RepoExists",
    "Sampling",
    "ScoreOptions",
    "Studio",
    "clean",
    "command_text",
    "count_pairs",
    "default_output",
    "duration",
    "get_studio",
    "guide",
    "is_dpo",
    "length_figure",
    "margin_figure",
    "optimizer_choices",
    "parse_prompts",
    "placeholder_figure",
    "probe_table",
    "results_figure",
    "results_table",
    "save",
    "token_hint",
    "training_figure",
]


class Studio(
    DataDoor, GenerateDoor, ScoreDoor, TrainDoor, RunsDoor, ChatDoor, EvaluateDoor, BenchDoor, JudgeDoor, ExportDoor
):
    def __init__(self, runs_root: str | Path | None = None):
        self.runs_root = Path(runs_root) if runs_root else None
        self.jobs = JobManager(self.runs_root, launcher=remote)  # a run sent elsewhere: studio.launch
        self.queue = TrainingQueue(self.jobs, self.runs_root)
        self.chat = ChatEngine()
        self.chat.source_root = self.root  # chat and evaluation load adapters from runs only
        self._tokenizers: dict[str, object] = {}
        self._lock = threading.Lock()
        self.generation_stops: dict[str, threading.Event] = {}  # a person's Stop for their generation


_studio: Studio | None = None


def get_studio() -> Studio:
    global _studio
    if _studio is None:
        _studio = Studio()
    return _studio
