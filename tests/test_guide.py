"""The form that guides (issue 33): presets and datasets, method and data steering each other.

Service level, no browser: what a preset does to the dataset in the form, which shipped example
and preset each method's refusal names (the one METHOD_PRESETS table), which method loaded data
suggests, and the CLI refusal's text.
"""

import json

import pytest

from studio.cli import main
from studio.config import METHOD_NAMES, RunConfig
from studio.data import load_data
from studio.train.guide import fill_preset, with_example
from studio.train.method_data import method_data_problem, suggest_method
from studio.train.presets import METHOD_PRESETS, PRESETS, method_preset, shipped_example
from studio.train.review import review

from .conftest import REAL_DATA, ROOT

SFT, DPO, GRPO = "Quick CPU demo: LoRA SFT", "Quick CPU demo: LoRA DPO", "Quick CPU demo: GRPO arithmetic"


@pytest.fixture
def alpaca_file(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [{"instruction": f"Say {i}", "output": f"{i}"} for i in range(6)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return str(path)


def test_a_preset_replaces_another_preset_s_shipped_dataset():
    config, note = fill_preset(SFT, "assets/arithmetic_grpo.jsonl", "auto", "", "")
    assert config.data.dataset == "assets/sample_sft.jsonl" and config.train.method == "sft"
    assert config.data.val_dataset == "" and note == ""
    config, note = fill_preset(GRPO, "assets/sample_dpo.jsonl")
    assert config.data.dataset == "assets/arithmetic_grpo.jsonl" and note == ""


def test_a_preset_keeps_the_user_s_fitting_dataset_and_says_so(alpaca_file):
    config, note = fill_preset(SFT, alpaca_file, "auto", "", "Be brief.")
    assert config.data.dataset == alpaca_file and config.data.system_prompt == "Be brief."
    assert config.train.max_steps == 40 and note.startswith(f"Kept your dataset {alpaca_file}")
    assert "assets/sample_sft.jsonl" in note


def test_a_preset_replaces_the_user_s_dataset_that_its_method_cannot_train_on(alpaca_file):
    config, note = fill_preset(GRPO, alpaca_file)
    assert config.data.dataset == "assets/arithmetic_grpo.jsonl"
    assert note.startswith(f"Replaced your dataset {alpaca_file}: GRPO needs prompts")
    assert "this dataset is alpaca" in note and "assets/arithmetic_grpo.jsonl" in note
    config, note = fill_preset(DPO, alpaca_file)  # DPO needs pairs
    assert config.data.dataset == "assets/sample_dpo.jsonl" and "Replaced" in note


def test_an_unreadable_dataset_is_kept_for_the_review_to_name(tmp_path):
    missing = str(tmp_path / "not-yet.csv")
    config, note = fill_preset(SFT, missing, "alpaca")
    assert config.data.dataset == missing and config.data.format == "alpaca" and "not readable yet" in note


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_has_a_preset_whose_shipped_example_it_trains_on(method):
    assert METHOD_PRESETS[method] in PRESETS
    config = method_preset(method)
    assert config.train.method == method and config.data.dataset == shipped_example(method)
    data = load_data(str(ROOT / config.data.dataset))
    assert method_data_problem(method, data.kind, data.format) is None
    mine = RunConfig()
    mine.train.method, mine.train.max_steps = method, 7
    example = with_example(mine)  # the example's data, the rest of the user's form kept
    assert example.data == config.data and example.train.max_steps == 7 and example.train.method == method


def test_a_refusal_names_the_method_s_example_and_preset():
    problem = method_data_problem("dpo", "chat", "alpaca")
    assert problem.field == "method" and "DPO needs preference pairs" in problem.message
    assert "assets/sample_dpo.jsonl" in problem.message and f"'{DPO}'" in problem.message
    kto = method_data_problem("kto", "prompt", "prompt").message
    assert "configs/quick_lora_dpo.yaml --method kto" in kto  # the DPO preset serves KTO, method kept
    grpo = method_data_problem("grpo", "chat", "alpaca").message
    assert "assets/arithmetic_grpo.jsonl" in grpo and "configs/quick_lora_grpo.yaml" in grpo


@pytest.mark.parametrize(
    ("method", "source", "suggested"),
    [
        ("sft", REAL_DATA / "dpo_en_demo.json", "dpo"),
        ("sft", REAL_DATA / "kto_en_demo.json", "kto"),
        ("dpo", REAL_DATA / "kto_en_demo.json", "kto"),
        ("sft", ROOT / "assets/arithmetic_grpo.jsonl", "grpo"),
        ("dpo", ROOT / "assets/arithmetic_grpo.jsonl", "grpo"),
        ("sft", ROOT / "assets/sample_sft.jsonl", None),
        ("orpo", REAL_DATA / "dpo_en_demo.json", None),  # ORPO reads pairs as they are
        ("kto", REAL_DATA / "kto_en_demo.json", None),
    ],
)
def test_loaded_data_suggests_the_method_it_was_made_for(method, source, suggested):
    data = load_data(str(source))
    suggestion = suggest_method(method, data.kind, data.format, data.columns)
    assert (suggestion.method if suggestion else None) == suggested
    if suggestion:
        assert suggestion.method.upper() in suggestion.reason


def test_the_review_carries_the_suggestion(tiny_model_dir):
    config = RunConfig()
    config.model.model, config.data.dataset = str(tiny_model_dir), str(REAL_DATA / "dpo_en_demo.json")
    r = review(config)
    assert r.data_kind == "preference" and r.suggestion.method == "dpo"
    assert not [p for p in r.errors if p.field == "method"]  # SFT can train on it: a suggestion, no refusal


def test_the_cli_refusal_names_the_shipped_grpo_task(tiny_model_dir, runs_dir, capsys):
    assert main(["train", "--method", "grpo", "--model", str(tiny_model_dir), "--runs-dir", str(runs_dir)]) == 2
    err = capsys.readouterr().err
    assert "GRPO needs prompts" in err and "this dataset is alpaca" in err
    assert "assets/arithmetic_grpo.jsonl" in err and "configs/quick_lora_grpo.yaml" in err
