"""The real embedded model: a short LoRA run lowers the loss and changes the answer."""

import pytest

from studio.chat.engine import ChatEngine, Sampling
from studio.config import RunConfig
from studio.train.jobs.manager import JobManager

from .conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.heavy]


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    config = RunConfig.load(ROOT / "configs" / "quick_lora_sft.yaml")
    config.train.max_steps = 30
    config.train.eval_steps = 0
    config.data.val_fraction = 0.0
    config.train.save_steps = 0
    jobs = JobManager(tmp_path_factory.mktemp("runs"))
    run = jobs.start(config)
    progress = jobs.wait(600)
    assert progress.status == "completed", progress.error
    return run


def test_loss_falls(embedded_run):
    losses = [m["loss"] for m in embedded_run.metrics() if "loss" in m]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_adapter_changes_the_greedy_answer_to_a_held_out_prompt(embedded_run):
    prompt = (ROOT / "assets" / "heldout_prompts.txt").read_text().splitlines()[0]
    engine = ChatEngine(embedded_run.config().model.model)
    greedy = Sampling(greedy=True, max_new_tokens=40)
    messages = [{"role": "user", "content": prompt}]
    base = engine.reply(messages, None, greedy)
    tuned = engine.reply(messages, str(embedded_run.adapter_dir), greedy)
    assert tuned != base
    assert tuned.startswith("Arr") and not base.startswith("Arr")
