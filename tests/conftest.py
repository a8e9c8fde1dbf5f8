"""Shared fixtures: a tiny random Llama with the real SmolLM2 tokenizer, and a runs folder.

The tiny model makes service tests take seconds; tests marked ``slow`` use the real embedded
model (converted once into the user cache by scripts/setup.sh).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "real-data"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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


@pytest.fixture
def tiny_config(tiny_model_dir, tmp_path):
    """A fast LoRA SFT config on the tiny model and a small slice of the sample data."""
    from studio.config import RunConfig

    config = RunConfig()
    config.model.model = str(tiny_model_dir)
    config.model.precision = "fp32"
    config.data.dataset = str(ROOT / "assets" / "sample_sft.jsonl")
    config.data.max_rows = 24
    config.train.max_steps = 3
    config.train.batch_size = 4
    config.train.max_length = 128
    config.train.save_steps = 0
    config.train.learning_rate = 1e-3
    return config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_sft_run(tiny_model_dir, tmp_path_factory):
    """A finished LoRA SFT run of the tiny model, trained hard enough (lr 5e-2, 8 steps) that its
    greedy answers differ from the base's, with a validation split of 6 rows."""
    from studio.config import RunConfig
    from studio.train.jobs import JobManager

    config = RunConfig()
    config.model.model = str(tiny_model_dir)
    config.model.precision = "fp32"
    config.data.dataset = str(ROOT / "assets" / "sample_sft.jsonl")
    config.data.max_rows = 24
    config.data.val_fraction = 0.25
    config.train.max_steps = 8
    config.train.learning_rate = 5e-2
    config.train.max_length = 128
    config.train.save_steps = 0
    jobs = JobManager(tmp_path_factory.mktemp("sft-runs"))
    run = jobs.start(config)
    progress = jobs.wait(300)
    assert progress.status == "completed", progress.error
    return run
