"""The studio's pipeline SFT -> reward model -> GRPO: a trained reward model scores GRPO's answers,
and every sampled answer is recorded with its scores (the Train tab's completions table)."""

import json
import math

import pytest

from studio.models.scorer import RewardScorer
from studio.runs import completions
from studio.runs.metrics import trim_steps
from studio.schema import ConfigError
from studio.train.jobs.manager import JobManager
from studio.train.methods.grpo_rewards import conversation

from .conftest import ROOT, tiny_recipe

DPO_DATA = str(ROOT / "assets" / "sample_dpo.jsonl")
GRPO_DATA = str(ROOT / "assets" / "arithmetic_grpo.jsonl")


def grpo_config(model_dir, reward_run: str = "", **overrides):
    config = tiny_recipe(model_dir, method="grpo", dataset=GRPO_DATA, max_rows=8, max_steps=2, batch_size=2)
    g = config.grpo
    g.num_generations, g.max_completion_length = 2, 8
    g.reward_length, g.length_target = 1.0, 400
    if reward_run:
        g.reward_model, g.reward_model_run = 0.5, reward_run
    for name, value in overrides.items():
        setattr(g, name, value)
    return config


@pytest.fixture(scope="module")
def reward_run(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    jobs = JobManager(root)
    run = jobs.start(tiny_recipe(tiny_model_dir, method="reward", dataset=DPO_DATA, max_rows=8, batch_size=2))
    assert jobs.wait(300).status == "completed", jobs.snapshot().error
    return run


@pytest.fixture(scope="module")
def grpo_run(tiny_model_dir, reward_run):
    jobs = JobManager(reward_run.path.parent)
    run = jobs.start(grpo_config(tiny_model_dir, reward_run.id))
    progress = jobs.wait(300)
    assert progress.status == "completed", progress.error
    return run


def test_a_trained_reward_model_scores_grpo_answers_and_every_answer_is_recorded(grpo_run, reward_run):
    run = grpo_run
    logged = [m for m in run.metrics() if "reward" in m]
    assert logged and all(math.isfinite(m["rewards/reward_model/mean"]) for m in logged)

    rows = completions.read(run.path)
    train = [r for r in rows if r["mode"] == "train"]
    # two steps of 2 prompts x 2 answers, each with both functions' scores and their weighted total
    assert sorted({r["step"] for r in train}) == [1, 2] and len(train) == 8
    for r in train:
        assert set(r["rewards"]) == {"exact_answer", "length", "reward_model"}
        assert r["total"] == pytest.approx(sum(r["rewards"].values()) - 0.5 * r["rewards"]["reward_model"])
    # the recorded score is the reward model's own score of the prompt plus the answer
    scorer = RewardScorer.from_run_folder(reward_run.path)
    first = train[0]
    prompt = [{"role": "user", "content": first["prompt"]}]
    again = scorer.score([conversation(prompt, first["completion"])])[0]
    assert again == pytest.approx(first["rewards"]["reward_model"], abs=1e-3)

    headers, table = completions.table(rows)
    assert headers == ["step", "prompt", "answer", "total", "exact_answer", "length", "reward_model"]
    assert len(table) == 4 and {row[0] for row in table} == {2}
    assert [row[3] for row in table] == sorted((row[3] for row in table), reverse=True)


def test_the_reward_model_run_must_be_a_saved_reward_model(tiny_model_dir, reward_run):
    jobs = JobManager(reward_run.path.parent)
    with pytest.raises(ConfigError) as missing:
        jobs.start(grpo_config(tiny_model_dir, "no-such-run"))
    assert missing.value.problems[0].field == "reward_model_run"
    sft = jobs.start(tiny_recipe(tiny_model_dir, max_steps=1))  # an SFT run in the same runs folder
    assert jobs.wait(300).status == "completed"
    with pytest.raises(ConfigError) as wrong:
        jobs.start(grpo_config(tiny_model_dir, sft.id))
    assert "not a reward model" in str(wrong.value)
    config = grpo_config(tiny_model_dir)
    config.grpo.reward_model = 1.0  # weighted, but no run named
    with pytest.raises(ConfigError) as unnamed:
        jobs.start(config)
    assert "reward_model_run" in {p.field for p in unnamed.value.problems}


def test_resume_drops_answers_sampled_after_the_checkpoint(tmp_path):
    rows = [
        {"step": s, "mode": "train", "prompt": "p", "completion": str(s), "rewards": {"f": s}, "total": s}
        for s in (1, 2, 3)
    ]
    completions.append(tmp_path, rows)
    trim_steps(tmp_path / completions.FILE, 2)
    assert [r["step"] for r in completions.read(tmp_path)] == [1, 2]
    assert json.loads((tmp_path / completions.FILE).read_text().splitlines()[-1])["completion"] == "2"


def test_a_reward_model_is_offered_for_evaluation_not_for_chat_or_merge(reward_run):
    from studio.chat.sampling import Sampling
    from studio.services import Studio

    studio = Studio(reward_run.path.parent)
    assert reward_run.id in [r.id for r in studio.runs()]
    assert not [label for label, _ in studio.adapter_choices() if reward_run.id in label]
    hello = [{"role": "user", "content": "hi"}]
    with pytest.raises(ValueError, match="is a reward model"):
        list(studio.chat_stream(hello, [None, str(reward_run.adapter_dir)], Sampling(greedy=True, max_new_tokens=2)))
    with pytest.raises(ValueError, match="is a reward model"):
        studio.merge(reward_run.id)


def test_the_model_cards_say_the_method_s_settings_and_how_to_use_it(grpo_run, reward_run):
    from PIL import Image

    from studio.export.card import metadata, render, write_card

    path = write_card(grpo_run)
    card = path.read_text()
    assert "![Mean reward per step](loss.png)" in card  # GRPO's card draws the reward, not its ~0 loss
    assert Image.open(path.parent / "loss.png").size == (800, 400)
    assert not (grpo_run.path / "loss.png").exists()  # the card and its plot stay out of the run folder
    assert "| GRPO group size / answer tokens | 2 / 8 |" in card
    assert f"exact answer (1), length (1), reward model {reward_run.id} (0.5)" in card
    assert "AutoModelForCausalLM" in card and metadata(grpo_run)["pipeline_tag"] == "text-generation"
    card = render(reward_run)
    assert "AutoModelForSequenceClassification" in card and "AutoModelForCausalLM" not in card
    assert metadata(reward_run)["pipeline_tag"] == "text-classification"
