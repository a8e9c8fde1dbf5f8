"""Shared fixtures: a tiny random Llama with the real SmolLM2 tokenizer, one run recipe, a runs folder.

The tiny model makes service tests take seconds; tests marked ``slow`` use the real embedded
model (converted once into the user cache by scripts/setup.sh). ``tiny_config`` is the recipe as
a config; ``make_run(**overrides)`` is a finished run of it (one per distinct recipe per session).

Markers sort the tiers (pyproject.toml): ``bash test.sh --all`` (or without options) runs them all,
CI (``bash test.sh --ci``) all but ``heavy``, which keeps ``smoke``, the cheapest case of each heavy
check. The unit tier: ``pytest -m "not slow and not e2e and not browser and not cli"``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "real-data"
sys.path.insert(0, str(ROOT))
# The environment the studio reads (STUDIO_*, SPACE_*, HF_*, Gradio's, OAuth, OpenAI, the trackers',
# a launcher's rank): a
# developer's shell or a Space must not steer the tests (nor turn off a fast path's switch,
# studio.patches: the tests that compare with them off set them themselves). All of it is
# cleared but where the caches live (the embedded model is converted there once) and where tests
# leave what a person looks at (screenshots, the load test's report), and the tests' own values are
# set below; the autouse fixture ``studio_environment`` puts this back around every test.
STUDIO_PREFIXES = ("STUDIO_", "SPACE_", "HF_", "GRADIO_", "OAUTH_", "OPENAI_", "WANDB_", "MLFLOW_", "TRACKIO_")
RANKS = frozenset({"WORLD_SIZE", "RANK", "LOCAL_RANK"})
KEPT = frozenset({"STUDIO_CACHE_DIR", "HF_HOME", "HF_HUB_CACHE", "STUDIO_SCREENSHOTS", "STUDIO_LOAD_REPORT"})


def read_by_studio(name: str) -> bool:
    return name.startswith(STUDIO_PREFIXES) or name in RANKS


for _name in [n for n in os.environ if read_by_studio(n) and n not in KEPT]:
    del os.environ[_name]
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Where llama-cpp-python is installed (optional), chat turns move to llama.cpp once a source's GGUF
# is written in the background; tests compare replies across calls, so they pin PyTorch and
# tests/test_chat_llamacpp.py asks for llama.cpp by name.
os.environ["STUDIO_CHAT_BACKEND"] = "torch"
# The folders tests read data from (studio.data.access): the checkout, the shared real data and
# the temporary folders pytest makes.
os.environ["STUDIO_ALLOWED_DIRS"] = os.pathsep.join([str(ROOT), str(REAL_DATA), tempfile.gettempdir()])
# The fast paths' switches (studio.patches) change what trains: a developer's shell must not turn
# one off under the tests; the tests that compare with them off set them themselves.
from studio.patches import ALL_OFF, FASTPATHS  # noqa: E402 - after the path above

for _switch in (ALL_OFF, *(p.switch for p in FASTPATHS.values())):
    os.environ.pop(_switch, None)
# Trackio reads its folder once, on import (TRL imports it): the tests' Trackio runs stay out of the
# user's cache, as app.py and the CLI keep the studio's in the runs folder (trackers.point_trackio).
os.environ["TRACKIO_DIR"] = tempfile.mkdtemp(prefix="studio-trackio-")
TESTS_ENVIRONMENT = {n: v for n, v in os.environ.items() if read_by_studio(n)}


def reset_studio_environment() -> None:
    """The studio's variables back to ``TESTS_ENVIRONMENT``: none added, none changed, none gone."""
    for name in [n for n in os.environ if read_by_studio(n) and n not in TESTS_ENVIRONMENT]:
        del os.environ[name]
    os.environ.update(TESTS_ENVIRONMENT)


@pytest.fixture(autouse=True)
def studio_environment():
    """Every test starts from the tests' environment and leaves it as it found it, though it (or
    the code under test: the CLI run in-process sets STUDIO_RUNS_DIR, a training sets the trackers'
    places) wrote to ``os.environ`` directly. A test sets what it needs with ``monkeypatch``."""
    reset_studio_environment()
    yield
    reset_studio_environment()


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    from studio.models.loading import ensure_embedded

    return ensure_embedded()


@pytest.fixture(scope="session")
def tokenizer(embedded_dir):
    from studio.models.loading import load_tokenizer

    return load_tokenizer(str(embedded_dir))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_dir) -> Path:
    """A 2-layer random Llama that speaks the SmolLM2 tokenizer and chat template."""
    from studio.bench.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "runs"
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(folder))
    return folder


def tiny_recipe(model_dir, **overrides):
    """The one tiny run recipe: a fast LoRA SFT config of the tiny model on 24 rows of the sample
    data. ``overrides`` name fields of any section (field names are unique across sections)."""
    import dataclasses

    from studio.config import RunConfig

    config = RunConfig()
    values = {
        "model": str(model_dir),
        "precision": "fp32",
        "dataset": str(ROOT / "assets" / "sample_sft.jsonl"),
        "max_rows": 24,
        "max_steps": 3,
        "batch_size": 4,
        "max_length": 128,
        "save_steps": 0,
        "learning_rate": 1e-3,
        **overrides,
    }
    owner = {
        f.name: section
        for section in (getattr(config, s.name) for s in dataclasses.fields(config))
        if dataclasses.is_dataclass(section)
        for f in dataclasses.fields(section)
    }
    for name, value in values.items():
        assert name in owner, f"{name} is no RunConfig field"
        setattr(owner[name], name, value)
    return config


@pytest.fixture
def tiny_config(tiny_model_dir):
    """The tiny recipe as a config, for a test to change and train itself."""
    return tiny_recipe(tiny_model_dir)


@pytest.fixture(scope="session")
def make_run(tiny_model_dir, tmp_path_factory):
    """``make_run(**overrides)``: a finished run of the tiny recipe with those fields changed, each
    in its own runs folder. A recipe trains once per session; tests that share it share the run."""
    from studio.train.jobs.manager import JobManager

    made = {}

    def make(**overrides):
        key = tuple(sorted((name, repr(value)) for name, value in overrides.items()))
        if key not in made:
            jobs = JobManager(tmp_path_factory.mktemp("runs"))
            run = jobs.start(tiny_recipe(tiny_model_dir, **overrides))
            progress = jobs.wait(300)
            assert progress.status == "completed", progress.error
            made[key] = run
        return made[key]

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_sft_run(make_run):
    """A finished LoRA SFT run of the tiny model, trained hard enough (lr 5e-2, 8 steps) that its
    greedy answers differ from the base's, with a validation split of 6 rows."""
    return make_run(val_fraction=0.25, max_steps=8, learning_rate=5e-2)


def train_until_sigkill(config, tmp_path: Path, runs: Path, at_checkpoint: int = 3, timeout: float = 240):
    """``python -m studio train`` in a subprocess, SIGKILLed once checkpoint-N is on disk; the run."""
    from studio.runs.directory import open_run  # after the environment above is set

    config_path = config.save(tmp_path / "run.yaml")
    cmd = [sys.executable, "-m", "studio", "train", str(config_path), "--runs-dir", str(runs), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, run = time.time() + timeout, None
        while time.time() < deadline and run is None:
            found = list(runs.glob(f"*/checkpoints/checkpoint-{at_checkpoint}/trainer_state.json"))
            run = open_run(found[0].parents[2]) if found else None
            assert proc.poll() is None, "the training ended before it could be killed"
            time.sleep(0.1)
        assert run is not None, f"no checkpoint-{at_checkpoint} within the time limit"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    return run


def start_and_stop(jobs, config, at_step: int = 2, timeout: float = 120):
    """Start ``config`` on ``jobs``, stop it once ``at_step`` steps are done; (run, the stopped snapshot)."""
    run = jobs.start(config)
    deadline = time.time() + timeout
    while jobs.snapshot().step < at_step and time.time() < deadline:
        time.sleep(0.02)
    assert jobs.stop()
    stopped = jobs.wait(timeout)
    assert stopped.status == "stopped", stopped.error
    return run, stopped
