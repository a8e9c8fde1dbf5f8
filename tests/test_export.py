"""Export: the adapter and merged models load with the plain libraries and answer like the studio.

The studio's answer is ``ChatEngine.reply(..., Sampling(greedy=True))`` in fp32; the other side
of each comparison is written here with plain transformers / PEFT calls, not the studio's helpers.
"""

import json
import shutil
import subprocess
import sys
import zipfile

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from studio.chat.engine import ChatEngine, Sampling
from studio.export import merge, verify
from studio.runs.directory import Run, new_run

from .conftest import ROOT

PROMPT = [{"role": "user", "content": "Who are you? Answer in one sentence."}]
TOKENS = 24


@pytest.fixture(autouse=True)
def short_probes(monkeypatch):
    """The exporter's own probe answers: 12 tokens are enough here, and generation is the slow part."""
    monkeypatch.setattr(verify, "PROBE_TOKENS", 12)


def plain_greedy(model, tokenizer, messages=PROMPT) -> str:
    """What a user's own script gets: the tokenizer's chat template and model.generate, greedy."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def studio_greedy(run: Run, source=None) -> str:
    engine = ChatEngine(run.config().model.model, dtype="fp32")
    return engine.reply(PROMPT, str(source or run.adapter_dir), Sampling(greedy=True, max_new_tokens=TOKENS))


@pytest.fixture(scope="module")
def studio_answers(tiny_sft_run):
    engine = ChatEngine(tiny_sft_run.config().model.model, dtype="fp32")
    greedy = Sampling(greedy=True, max_new_tokens=TOKENS)
    answers = {
        "adapter": engine.reply(PROMPT, str(tiny_sft_run.adapter_dir), greedy),
        "base": engine.reply(PROMPT, None, greedy),
    }
    assert answers["adapter"] != answers["base"], "the fixture's adapter must change the answer"
    return answers


def test_adapter_export_loads_with_plain_peft_and_answers_like_the_studio(tiny_sft_run, studio_answers, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = merge.export_adapter(tiny_sft_run, tmp_path / "adapter")
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "chat_template.jinja", "README.md", "loss.png"} <= names
    assert "training_args.bin" not in names  # a pickle: the Hub flags it, and nobody needs it
    base_name = json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_name), out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template == AutoTokenizer.from_pretrained(tiny_sft_run.adapter_dir).chat_template
    assert plain_greedy(model, tokenizer) == studio_answers["adapter"]


def test_model_card_usage_snippet_runs_as_written(tiny_sft_run, studio_answers, tmp_path, capsys):
    out = merge.export_adapter(tiny_sft_run, tmp_path / "adapter")
    card = (out / "README.md").read_text()
    code = card.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("path/to/this/folder", str(out)).replace("Who are you?", PROMPT[0]["content"])
    code = code.replace("max_new_tokens=64", f"max_new_tokens={TOKENS}")
    exec(compile(code, "usage-snippet", "exec"), {})
    assert capsys.readouterr().out == studio_answers["adapter"] + "\n"


def test_zip_holds_a_loadable_adapter(tiny_sft_run, tmp_path):
    zipped = merge.zip_adapter(tiny_sft_run)
    assert zipped.parent == tiny_sft_run.path / "export"
    with zipfile.ZipFile(zipped) as archive:
        assert archive.testzip() is None
        archive.extractall(tmp_path / "unzipped")
    original = load_file(tiny_sft_run.adapter_dir / "adapter_model.safetensors")
    unzipped = load_file(tmp_path / "unzipped" / "adapter_model.safetensors")
    assert original.keys() == unzipped.keys()
    assert all(torch.equal(original[k], unzipped[k]) for k in original)


def test_fp32_merge_answers_like_the_studio_with_plain_transformers(tiny_sft_run, studio_answers, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report = merge.merge(tiny_sft_run, tmp_path / "merged", "fp32")
    out = tmp_path / "merged"
    assert not list(out.glob("*.bin")) and (out / "model.safetensors").exists()
    assert report.layers_changed == report.layers_targeted == 14  # 7 linear layers x 2 decoder layers
    assert report.max_logit_diff_vs_adapter < 1e-4 < report.max_logit_diff_vs_base
    model = AutoModelForCausalLM.from_pretrained(out)
    answer = plain_greedy(model, AutoTokenizer.from_pretrained(out))
    assert answer == studio_answers["adapter"] != studio_answers["base"]
    card = (out / "README.md").read_text()
    assert "library_name: transformers" in card and "merged" in card


def test_fp16_merge_saves_fp16_weights_and_says_how_it_went(tiny_sft_run, tmp_path):
    report = merge.merge(tiny_sft_run, tmp_path / "merged", "fp16")
    with safe_open(tmp_path / "merged" / "model.safetensors", "pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes == {"F16"}
    assert json.loads((tmp_path / "merged" / "config.json").read_text())["dtype"] == "float16"
    assert report.layers_changed == report.layers_targeted
    assert report.same_answer or report.warnings  # a rounding difference is reported, never silent


def _zeroed_copy(run: Run, tmp_path) -> Run:
    """The run with its adapter's lora_B all zero: a merge of it changes nothing."""
    copy = Run(tmp_path / "zeroed-run")
    shutil.copytree(run.path, copy.path, ignore=shutil.ignore_patterns("export"))
    path = copy.adapter_dir / "adapter_model.safetensors"
    tensors = load_file(path)
    save_file({k: torch.zeros_like(v) if "lora_B" in k else v for k, v in tensors.items()}, path)
    return copy


def test_a_silently_empty_merge_is_caught_and_nothing_is_left(tiny_sft_run, tmp_path):
    zeroed = _zeroed_copy(tiny_sft_run, tmp_path)
    with pytest.raises(merge.EmptyMergeError, match="all zeros.*give back the base unchanged"):
        merge.merge(zeroed, tmp_path / "merged", "fp32")
    assert not (tmp_path / "merged").exists()


def test_update_below_bf16_resolution_is_an_empty_merge(tiny_sft_run, tmp_path):
    tiny = _zeroed_copy(tiny_sft_run, tmp_path)
    path = tiny.adapter_dir / "adapter_model.safetensors"
    tensors = load_file(path)
    save_file({k: torch.full_like(v, 1e-20) if "lora_B" in k else v for k, v in tensors.items()}, path)
    with pytest.raises(merge.EmptyMergeError, match="below bf16 resolution"):
        merge.merge(tiny, tmp_path / "merged", "bf16")


@pytest.fixture(scope="module")
def qlora_run(tiny_model_dir, tmp_path_factory):
    from studio.config import RunConfig
    from studio.train.jobs.manager import JobManager

    config = RunConfig()
    config.model.model = str(tiny_model_dir)
    config.model.precision = "fp32"
    config.adapter.adapter = "qlora"
    config.data.dataset = str(ROOT / "assets" / "sample_sft.jsonl")
    config.data.max_rows = 8
    config.train.max_steps = 2
    config.train.max_length = 128
    config.train.learning_rate = 5e-2
    config.train.save_steps = 0
    jobs = JobManager(tmp_path_factory.mktemp("qlora-runs"))
    run = jobs.start(config)
    assert jobs.wait(300).status == "completed"
    return run


def test_qlora_merges_into_a_full_precision_base_not_4bit(qlora_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report = merge.merge(qlora_run, tmp_path / "merged", "fp32")
    config = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert "quantization_config" not in config
    with safe_open(tmp_path / "merged" / "model.safetensors", "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F32"}
        shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    assert shapes["model.layers.0.self_attn.q_proj.weight"] == [64, 64]  # not packed 4-bit storage
    assert report.layers_changed == report.layers_targeted > 0
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    answer = plain_greedy(model, AutoTokenizer.from_pretrained(tmp_path / "merged"))
    assert answer == studio_greedy(qlora_run)
    assert "not into the 4-bit weights" in (tmp_path / "merged" / "README.md").read_text()


def test_a_full_fine_tune_exports_as_a_model(tiny_model_dir, tiny_config, tmp_path):
    from transformers import AutoModelForCausalLM

    tiny_config.adapter.adapter = "full"
    run = new_run(tiny_config, tmp_path / "runs")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight.mul_(3.0)  # "trained": differs from the base
    model.save_pretrained(run.adapter_dir)
    shutil.copy(tiny_model_dir / "tokenizer.json", run.adapter_dir)
    shutil.copy(tiny_model_dir / "tokenizer_config.json", run.adapter_dir)
    report = merge.merge(run, tmp_path / "out", "bf16")
    assert not report.merged
    assert "library_name: transformers" in (tmp_path / "out" / "README.md").read_text()
    assert (tmp_path / "out" / "chat_template.jinja").exists()  # the run's template travels with it
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "out").dtype == torch.bfloat16


def test_an_untrained_run_and_bad_choices_are_refused_by_name(tiny_config, tiny_sft_run, tmp_path):
    run = new_run(tiny_config, tmp_path / "runs")
    with pytest.raises(ValueError, match=f"run {run.id} has no saved adapter"):
        merge.export_adapter(run, tmp_path / "out")
    with pytest.raises(ValueError, match="dtype: 'int8' is not one of"):
        merge.merge(tiny_sft_run, tmp_path / "merged", "int8")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="is not empty"):
        merge.export_adapter(tiny_sft_run, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.cli
def test_cli_export_writes_folder_and_zip_and_keeps_a_non_empty_folder(tiny_sft_run, tmp_path):
    out = tmp_path / "cli-adapter"
    cmd = [sys.executable, "-m", "studio", "export", "--run", str(tiny_sft_run.path), "--out", str(out)]
    cmd += ["--runs-dir", str(tiny_sft_run.path.parent)]
    done = subprocess.run([*cmd, "--zip"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(out)
    assert (out / "adapter_model.safetensors").read_bytes() == (
        tiny_sft_run.adapter_dir / "adapter_model.safetensors"
    ).read_bytes()
    assert "adapter_config.json" in zipfile.ZipFile(out.with_suffix(".zip")).namelist()
    again = subprocess.run([*cmd, "--merge"], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "is not empty" in again.stderr
