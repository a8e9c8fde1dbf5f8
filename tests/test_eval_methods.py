"""Evaluate per method: GRPO's rewards on held-out prompts, a reward model's pairwise accuracy,
KTO's good-vs-bad gap and ORPO's preference accuracy, base vs trained, on the tiny model."""

import pytest

from studio.chat.engine import ChatEngine
from studio.evaluate.pipeline import EvalOptions, evaluate_run, held_out_rows
from studio.evaluate.report import results_table
from studio.models.scorer import RewardScorer
from studio.train.methods import grpo_rewards

from .conftest import REAL_DATA, ROOT

DPO_DATA = str(ROOT / "assets" / "sample_dpo.jsonl")


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return ChatEngine(str(tiny_model_dir))


def test_grpo_is_judged_by_its_own_rewards_on_held_out_prompts(engine, make_run):
    run = make_run(
        method="grpo",
        dataset=str(ROOT / "assets" / "arithmetic_grpo.jsonl"),
        max_rows=8,
        val_fraction=0.25,
        max_steps=2,
        batch_size=2,
        num_generations=2,
        max_completion_length=8,
        reward_length=1.0,
        length_target=40,
        reward_no_repeat=0.5,
    )
    result = evaluate_run(engine, run, EvalOptions(max_new_tokens=12))
    rows, _, _ = held_out_rows(run, EvalOptions())
    assert result["generated"] == len(rows) == 2 and "perplexity" not in result["base"]
    references = [g["reference"] for g in result["generations"]]
    assert references == [r["answer"] for r in rows]
    for label in ("base", "adapter"):
        stats = result[label]
        answers = [g[label] for g in result["generations"]]
        # each function's mean is that function on the greedy answers; the total is the weighted sum
        length = grpo_rewards.make_length_target(40)(answers)
        assert stats["reward/length"] == pytest.approx(sum(length) / 2)
        assert stats["reward/no_repeat"] == pytest.approx(sum(grpo_rewards.no_repeat(answers)) / 2)
        weighted = stats["reward/exact_answer"] + stats["reward/length"] + 0.5 * stats["reward/no_repeat"]
        assert stats["reward"] == pytest.approx(weighted)
    shown = [row[0] for row in results_table(result)["data"]]
    assert shown[0].startswith("GRPO mean reward") and any(s.startswith("Length reward") for s in shown)


def test_a_reward_model_is_judged_by_pairwise_accuracy_against_its_fresh_head(engine, make_run):
    run = make_run(method="reward", dataset=DPO_DATA, max_rows=16, val_fraction=0.25, batch_size=2, max_steps=4,
                   probe_prompts="Who are you?")  # fmt: skip
    assert not run.probes()  # a score head answers nothing: its probe prompts are skipped, not a crash
    result = evaluate_run(engine, run, EvalOptions())
    rows, _, _ = held_out_rows(run, EvalOptions())
    assert result["rows"] == 4 and result["generated"] == 0
    config = run.config()
    for label, scorer in (
        ("base", RewardScorer.initial(config.model.model, config.train.seed)),
        ("adapter", RewardScorer.from_run_folder(run.path)),
    ):
        chosen = scorer.score([r["prompt"] + r["chosen"] for r in rows])
        rejected = scorer.score([r["prompt"] + r["rejected"] for r in rows])
        margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
        assert result[label]["rm_accuracy"] == sum(m > 0 for m in margins) / 4
        assert result[label]["rm_margin"] == pytest.approx(sum(margins) / 4, abs=1e-4)
    # training moved the scores: the trained model's margins are not the fresh head's
    assert result["adapter"]["rm_margin"] != pytest.approx(result["base"]["rm_margin"], abs=1e-6)


def test_kto_reports_the_gap_between_good_and_bad_answers(engine, make_run):
    run = make_run(
        method="kto",
        dataset=str(REAL_DATA / "kto_en_demo.json"),
        format="kto",
        max_rows=24,
        val_fraction=0.5,
        batch_size=2,
        max_length=512,
        max_steps=2,
    )
    result = evaluate_run(engine, run, EvalOptions())
    labels = {r["label"] for r in held_out_rows(run, EvalOptions())[0]}
    assert labels == {True, False}
    for label in ("base", "adapter"):
        stats = result[label]
        assert stats["desirable_logp"] < 0 and stats["undesirable_logp"] < 0
        assert stats["kto_gap"] == pytest.approx(stats["desirable_logp"] - stats["undesirable_logp"])


def test_orpo_gets_preference_accuracy_without_dpo_s_reference_margin(engine, make_run):
    run = make_run(method="orpo", dataset=DPO_DATA, max_rows=16, val_fraction=0.25, batch_size=2, max_steps=2)
    result = evaluate_run(engine, run, EvalOptions())
    assert 0 <= result["adapter"]["preference_accuracy"] <= 1
    assert "reward_margin" not in result["adapter"]
