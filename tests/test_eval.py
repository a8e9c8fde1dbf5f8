"""Evaluation of a run: its own held-out rows, base vs adapter, saved into the run; the CLI; batch compare."""

import csv
import json

import pytest

from studio.chat.engine import ChatEngine
from studio.evaluate.pipeline import EvalOptions, NoValidationSplit, evaluate_run, held_out_prompts, held_out_rows

from .conftest import ROOT
from .test_cli import studio


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return ChatEngine(str(tiny_model_dir))


def test_the_held_out_rows_are_the_run_s_validation_split(tiny_sft_run):
    from studio.data import load_data

    rows, split, warnings = held_out_rows(tiny_sft_run, EvalOptions(max_rows=0))
    numbers = tiny_sft_run.read_json("dataset.json")["val_row_numbers"]
    data = load_data(str(ROOT / "assets" / "sample_sft.jsonl"), max_rows=24)
    assert split == "validation" and not warnings and len(numbers) == 6
    assert rows == [data.rows[n - 1] for n in numbers]


def test_sft_evaluation_scores_both_models_and_saves_into_the_run(engine, tiny_sft_run):
    seen = []
    result = evaluate_run(
        engine, tiny_sft_run, EvalOptions(generate_rows=3, max_new_tokens=8), progress=lambda f, m: seen.append(f)
    )
    for label in ("base", "adapter"):
        assert result[label]["perplexity"] > 1
        assert {"rouge_l", "bleu", "exact_match"} <= set(result[label])
    # Trained on this data at a high rate, the adapter fits held-out answers of the same style better.
    assert result["adapter"]["perplexity"] < result["base"]["perplexity"]
    assert result["split"] == "validation" and result["rows"] == 6 and result["generated"] == 3
    assert seen[0] == 0.0 and seen[-1] == 1.0
    saved = json.loads((tiny_sft_run.path / "eval.json").read_text())
    assert saved["adapter"]["perplexity"] == result["adapter"]["perplexity"] and "generations" not in saved
    with open(tiny_sft_run.path / "eval_generations.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == result["generations"] and set(rows[0]) == {"prompt", "reference", "base", "adapter"}
    assert any(g["base"] != g["adapter"] for g in rows)


@pytest.mark.cli
def test_eval_cli_prints_json_keyed_by_base_and_adapter(tiny_sft_run):
    result = studio(
        "eval",
        "--run",
        str(tiny_sft_run.path),
        "--runs-dir",
        str(tiny_sft_run.path.parent),
        "--json",
        "--generate-rows",
        "1",
        "--max-new-tokens",
        "4",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["base"]["perplexity"] > data["adapter"]["perplexity"] > 1
    assert data["generated"] == 1 and data["split"] == "validation"


@pytest.fixture(scope="module")
def no_val_run(make_run):
    return make_run(max_rows=8, max_steps=1)


def test_a_run_without_validation_split_is_offered_a_training_sample(engine, no_val_run):
    with pytest.raises(NoValidationSplit, match="no validation split .*train sample"):
        evaluate_run(engine, no_val_run, EvalOptions(generate_rows=0))
    result = evaluate_run(engine, no_val_run, EvalOptions(generate_rows=0, train_sample=3))
    assert result["split"] == "training sample" and result["rows"] == 3
    assert "optimistic" in result["warnings"][0]


@pytest.mark.cli
def test_the_eval_command_names_train_sample_for_a_run_without_validation(no_val_run):
    cli = studio("eval", "--run", str(no_val_run.path), "--runs-dir", str(no_val_run.path.parent))
    assert cli.returncode == 2 and "--train-sample" in cli.stderr


@pytest.fixture(scope="module")
def dpo_run(make_run):
    return make_run(
        method="dpo",
        dataset=str(ROOT / "assets" / "sample_dpo.jsonl"),
        max_rows=16,
        val_fraction=0.25,
        learning_rate=5e-3,
    )


def test_dpo_evaluation_reports_preference_accuracy_and_margins(engine, dpo_run):
    result = evaluate_run(engine, dpo_run, EvalOptions())
    base, adapter = result["base"], result["adapter"]
    assert result["rows"] == 4 and result["generated"] == 0
    for stats in (base, adapter):
        assert 0 <= stats["preference_accuracy"] <= 1 and "logp_margin" in stats and stats["perplexity"] > 1
    assert "reward_margin" in adapter and "reward_margin" not in base
    # The reward margin is beta x the change in log-prob margin from the base.
    assert adapter["reward_margin"] == pytest.approx(0.1 * (adapter["logp_margin"] - base["logp_margin"]), rel=1e-4)


def test_batch_compare_marks_the_words_that_differ(engine, tiny_sft_run):
    from studio.chat.compare import compare_prompts, word_diff
    from studio.chat.sampling import Sampling

    left, right = word_diff("the cat sat down", "the dog sat down fast")
    assert left == [("the ", None), ("cat ", "del"), ("sat down", None)]
    assert right == [("the ", None), ("dog ", "ins"), ("sat down ", None), ("fast", "ins")]
    prompts = held_out_prompts(tiny_sft_run, n=2)
    assert len(prompts) == 2 and all("\n" not in p for p in prompts)
    rows = compare_prompts(engine, prompts, str(tiny_sft_run.adapter_dir), Sampling(greedy=True, max_new_tokens=6))
    assert [r["prompt"] for r in rows] == prompts
    for row in rows:
        assert "".join(t for t, _ in row["base_diff"]) == row["base"]
        assert "".join(t for t, _ in row["adapter_diff"]) == row["adapter"]
    assert not all(r["same"] for r in rows)
