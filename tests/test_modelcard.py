"""Model cards: Hub metadata, what was trained and on what, the loss plot, evaluation results."""

import json

import pytest
from huggingface_hub import ModelCard
from PIL import Image

from studio.config import RunConfig
from studio.export import card as modelcard
from studio.export.lossplot import loss_png, nice_ticks
from studio.runs.directory import new_run

from .conftest import ROOT


@pytest.fixture
def finished_run(tmp_path):
    """A run directory as a finished training leaves it (no model needed to write a card)."""
    config = RunConfig()  # the embedded model
    config.data.dataset = str(ROOT / "assets" / "sample_sft.jsonl")
    config.train.learning_rate = 1e-4
    config.adapter.lora_r = 16
    config.adapter.lora_alpha = 32
    run = new_run(config, tmp_path / "runs")
    run.write_json(
        "dataset.json",
        {
            "source": config.data.dataset,
            "format": "alpaca",
            "rows": 223,
            "fingerprint": "fa5ad3560f855f0e",
            "train_rows": 200,
            "val_rows": 23,
        },
    )
    run.write_json("summary.json", {"step": 50, "total_steps": 50, "train_seconds": 95.2, "peak_memory_bytes": 2**31})
    run.write_json(
        "environment.json",
        {
            "device": "Test CPU x2 (cpu, 23.5 GiB)",
            "precision": "bf16",
            "libraries": {"peft": "0.21.2", "trl": "1.16.0"},
        },
    )
    lines = [{"step": s, "loss": 3.0 - s / 25} for s in range(1, 51)] + [{"step": 25, "eval_loss": 2.2}]
    run.metrics_path.write_text("".join(json.dumps(m) + "\n" for m in lines))
    return run


def test_front_matter_is_hub_metadata(finished_run):
    card = ModelCard(modelcard.render(finished_run))  # the Hub client parses it
    data = card.data.to_dict()
    assert data["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert data["library_name"] == "peft"
    assert data["license"] == "apache-2.0"
    assert {"peft", "sft", "lora", "trl"} <= set(data["tags"])
    assert "datasets" not in data  # a local file is not a Hub dataset


def test_hub_dataset_and_merged_kind(finished_run):
    config = finished_run.config()
    config.data.dataset = "tatsu-lab/alpaca"
    config.save(finished_run.config_path)
    data = ModelCard(modelcard.render(finished_run, kind="merged")).data.to_dict()
    assert data["datasets"] == ["tatsu-lab/alpaca"]
    assert data["library_name"] == "transformers" and "merged" in data["tags"]


def test_body_says_what_was_trained_on_what_and_how_long(finished_run):
    path = modelcard.write_card(finished_run)
    assert path.parent == finished_run.path / "export" / "card" and (path.parent / "loss.png").is_file()
    assert not (finished_run.path / "loss.png").exists() and not (finished_run.path / "README.md").exists()
    text = path.read_text()
    for expected in (
        "LoRA rank r / alpha | 16 / 32",
        "learning rate | 0.0001",
        "fa5ad3560f855f0e",
        "rows read | 223",
        "train / validation rows | 200 / 23",
        "1m 35s",
        "Test CPU x2",
        "2.00 GiB",
        "best eval loss | 2.2000",
        "![Training loss](loss.png)",
        "PeftModel.from_pretrained(base,",
    ):
        assert expected in text, expected
    assert str(ROOT) not in text  # no local paths of this machine in a card meant for the Hub


def test_evaluation_results_appear_when_present(finished_run):
    assert "## Evaluation" not in modelcard.render(finished_run)
    finished_run.write_json(
        "eval.json",
        {
            "base": {"perplexity": 9.5, "rouge_l": 0.21},
            "adapter": {"perplexity": 4.25, "rouge_l": 0.4},
            "rows": 23,
            "split": "validation",
            "adapter_dir": "/secret/path",
        },
    )
    text = modelcard.render(finished_run)
    assert "| perplexity | 9.5 | 4.25 |" in text and "| rouge_l | 0.21 | 0.4 |" in text
    assert "/secret/path" not in text


def test_loss_png_draws_both_curves(finished_run, tmp_path):
    path = loss_png(finished_run.metrics(), tmp_path / "loss.png")
    image = Image.open(path).convert("RGB")
    assert image.size == (800, 400)
    colors = {c for _, c in image.getcolors(1 << 20)}
    assert (37, 99, 235) in colors and (234, 88, 12) in colors  # train (blue) and eval (orange)
    assert loss_png([{"step": 1, "grad_norm": 1.0}], tmp_path / "none.png") is None


def test_ticks_cover_the_range():
    ticks = nice_ticks(0.53, 3.41)
    assert ticks[0] <= 0.53 and ticks[-1] >= 3.41 and len(ticks) <= 8


def test_no_token_from_the_environment_reaches_the_card(finished_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_cardsecret123")
    assert "hf_cardsecret123" not in modelcard.write_card(finished_run).read_text()


def test_benchmarks_appear_when_the_harness_scored_the_run(finished_run):
    assert "## Benchmarks" not in modelcard.render(finished_run)
    metric = {"higher_is_better": True, "base": 0.25, "base_stderr": 0.1, "adapter": 0.5, "adapter_stderr": 0.125}
    finished_run.write_json(
        "benchmarks.json",
        {
            "harness": "lm-eval 0.4.13",
            "tasks": {
                "arc_easy": {"n": 20, "adapter_dir": "/secret/path", "metrics": {"acc": {**metric, "difference": 0.25}}}
            },
        },
    )
    text = modelcard.render(finished_run)
    assert "## Benchmarks" in text and "lm-eval 0.4.13" in text
    assert "| arc_easy | acc ↑ | 20 | 0.2500 ± 0.1000 | 0.5000 ± 0.1250 | +0.2500 |" in text
    assert "/secret/path" not in text
