"""The embedded model end to end: train, export, merge, push; plain loads answer like the studio."""

import json

import huggingface_hub
import pytest
import torch

from studio.chat.engine import ChatEngine, Sampling
from studio.config import RunConfig
from studio.export import hub, merge, verify
from studio.train.jobs.manager import JobManager

from .conftest import ROOT
from .hubserver import FakeHub

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
TOKENS = 24
SECRET = "hf_embeddedTESTsecret00000000"


def plain_greedy(model, tokenizer) -> str:
    text = tokenizer.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


@pytest.fixture(scope="module")
def embedded_run(embedded_dir, tmp_path_factory):
    config = RunConfig()  # the embedded SmolLM2-135M-Instruct
    config.model.precision = "fp32"
    config.data.dataset = str(ROOT / "assets" / "sample_sft.jsonl")
    config.data.max_rows = 32
    config.train.max_steps = 6
    config.train.learning_rate = 1e-3
    config.train.max_length = 256
    config.train.save_steps = 0
    config.probes.probe_prompts = PROMPT[0]["content"]
    jobs = JobManager(tmp_path_factory.mktemp("embedded-runs"))
    run = jobs.start(config)
    assert jobs.wait(900).status == "completed"
    return run


@pytest.fixture(scope="module")
def studio_answers(embedded_run):
    engine = ChatEngine(embedded_run.config().model.model, dtype="fp32")
    greedy = Sampling(greedy=True, max_new_tokens=TOKENS)
    answers = {
        "adapter": engine.reply(PROMPT, str(embedded_run.adapter_dir), greedy),
        "base": engine.reply(PROMPT, None, greedy),
    }
    assert answers["adapter"] != answers["base"]
    return answers


def test_plain_peft_loads_the_exported_adapter(embedded_run, embedded_dir, studio_answers, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = merge.export_adapter(embedded_run, tmp_path / "adapter")
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    card = (out / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "license: apache-2.0" in card
    # Offline here, so the base comes from the local copy of that Hub repository.
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(embedded_dir), out)
    assert plain_greedy(model, AutoTokenizer.from_pretrained(out)) == studio_answers["adapter"]


def test_plain_transformers_loads_the_fp32_merge(embedded_run, studio_answers, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report = merge.merge(embedded_run, tmp_path / "merged", "fp32")
    assert report.layers_changed == report.layers_targeted == 30 * 7
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert plain_greedy(model, AutoTokenizer.from_pretrained(tmp_path / "merged")) == studio_answers["adapter"]


def test_push_and_reload_from_the_hub(embedded_run, monkeypatch, tmp_path):
    with FakeHub({SECRET: "alice"}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(verify, "PROBE_TOKENS", TOKENS)
        result = hub.push_run(embedded_run, "smol-pirate", token=SECRET)
    assert result.check["ok"] and result.check["files_identical"], result.check
    assert result.check["plain"] == result.check["studio"]
