"""Push to the Hub with the real huggingface_hub client against a loopback Hub (tests/hubserver.py).

What arrives is recorded (files, the private flag, the Authorization header); the token must
appear in no file of the run, no log, no output and no request body.
"""

import json
import os
import subprocess
import sys
import time

import huggingface_hub
import pytest
import torch

from studio.chat.engine import ChatEngine, Sampling
from studio.export import hub as studio_hub
from studio.export import verify

from .conftest import ROOT, free_port
from .hubserver import FakeHub

SECRET = "hf_studioTESTsecret9f8e7d6c5b4a"
READ_ONLY = "hf_readonlyTEST0000000000000000"
ADAPTER_FILES = {
    "README.md",
    "adapter_config.json",
    "adapter_model.safetensors",
    "chat_template.jinja",
    "loss.png",
    "tokenizer.json",
    "tokenizer_config.json",
}
PROMPT = [{"role": "user", "content": "Who are you? Answer in one sentence."}]


@pytest.fixture(scope="module")
def hub():
    with FakeHub({SECRET: "alice", READ_ONLY: "alice"}, read_only=(READ_ONLY,)) as fake:
        yield fake


@pytest.fixture(scope="module")
def cli_push(hub, tiny_sft_run, tmp_path_factory):
    """``python -m studio push`` in a subprocess, the token in HF_TOKEN, the Hub on loopback."""
    home = tmp_path_factory.mktemp("hf-home")
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HUB_DISABLE_XET": "1",  # the loopback Hub speaks LFS, not Xet
        "HF_TOKEN": SECRET,
        "HF_HOME": str(home),
    }
    cmd = [sys.executable, "-m", "studio", "-v", "push", "--run", str(tiny_sft_run.path), "--repo", "tuned"]
    cmd += ["--runs-dir", str(tiny_sft_run.path.parent)]
    done = subprocess.run([*cmd, "--private"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return done, home


@pytest.fixture
def in_process(hub, monkeypatch, tmp_path):
    """The client in this process pointed at the loopback Hub, with no token from this machine."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(verify, "PROBE_TOKENS", 12)
    return hub


@pytest.mark.cli
def test_cli_push_sends_files_private_flag_and_token_header(cli_push, hub, tiny_sft_run):
    done, _ = cli_push
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == f"{hub.url}/alice/tuned"
    assert hub.create_payloads[0] == {"name": "tuned", "organization": "alice", "visibility": "private"}
    repo = hub.repos["alice/tuned"]
    assert repo.private
    assert set(repo.files) - {".gitattributes"} == ADAPTER_FILES
    adapter = tiny_sft_run.adapter_dir
    assert repo.files["adapter_model.safetensors"] == (adapter / "adapter_model.safetensors").read_bytes()
    assert repo.files["chat_template.jinja"] == (adapter / "chat_template.jinja").read_bytes()
    assert b"library_name: peft" in repo.files["README.md"]
    to_hub = [auth for method, path, auth in hub.requests if not path.startswith("/lfs-upload/")]
    assert to_hub and all(auth == f"Bearer {SECRET}" for auth in to_hub)
    assert "answers exactly like the studio" in done.stderr


@pytest.mark.cli
def test_the_token_is_written_nowhere(cli_push, hub, tiny_sft_run):
    done, home = cli_push
    assert done.returncode == 0
    secret = SECRET.encode()
    for root in (tiny_sft_run.path, home):
        for path in root.rglob("*"):
            if path.is_file():
                assert secret not in path.read_bytes(), f"the token leaked into {path}"
    assert SECRET not in done.stdout and SECRET not in done.stderr  # console logs (-v: library logs too)
    assert not any(secret in body for body in hub.bodies)  # only ever in the Authorization header
    last = tiny_sft_run.read_json("hub.json")["pushes"][-1]
    assert last["token_source"] == "the HF_TOKEN environment variable" and last["check"]["ok"]


@pytest.mark.cli
def test_what_was_pushed_loads_with_plain_peft_and_answers_like_the_studio(cli_push, hub, tiny_sft_run, tmp_path):
    from huggingface_hub import hf_hub_download
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for name in ADAPTER_FILES:
        hf_hub_download("alice/tuned", name, endpoint=hub.url, token=SECRET, local_dir=tmp_path / "dl")
    base = AutoModelForCausalLM.from_pretrained(tiny_sft_run.config().model.model)
    model = PeftModel.from_pretrained(base, tmp_path / "dl")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "dl")
    text = tokenizer.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=20, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    plain = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    engine = ChatEngine(tiny_sft_run.config().model.model, dtype="fp32")
    assert plain == engine.reply(PROMPT, str(tiny_sft_run.adapter_dir), Sampling(greedy=True, max_new_tokens=20))


def test_missing_rejected_and_read_only_tokens_are_named_and_nothing_is_created(in_process, tiny_sft_run):
    before = set(in_process.repos)
    with pytest.raises(studio_hub.TokenMissing, match="no Hugging Face token: set HF_TOKEN"):
        studio_hub.push_run(tiny_sft_run, "nothing")
    with pytest.raises(studio_hub.TokenRejected, match=r"rejected the token from the token field \(401") as bad:
        studio_hub.push_run(tiny_sft_run, "nothing", token="hf_wrongwrongwrong")
    assert "hf_wrongwrongwrong" not in str(bad.value)  # never shown back
    with pytest.raises(studio_hub.TokenRejected, match="read-only"):
        studio_hub.push_run(tiny_sft_run, "nothing", token=READ_ONLY)
    assert set(in_process.repos) == before


def test_no_network_is_said_in_seconds(in_process, tiny_sft_run, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()
    with pytest.raises(studio_hub.HubUnreachable, match="cannot reach the Hugging Face Hub.*no network"):
        studio_hub.push_run(tiny_sft_run, "tuned", token=SECRET)
    assert time.monotonic() - started < 30


def test_an_existing_repo_is_updated_only_when_asked(in_process, tiny_sft_run):
    first = studio_hub.push_run(tiny_sft_run, "alice/both", token=SECRET, private=True, verify=False)
    assert first.created and first.what == "adapter"
    with pytest.raises(studio_hub.RepoExists, match="already exists.*--update"):
        studio_hub.push_run(tiny_sft_run, "alice/both", token=SECRET)
    second = studio_hub.push_run(tiny_sft_run, "alice/both", token=SECRET, merged=True, dtype="fp32", update=True)
    assert not second.created and second.private  # an update keeps the repository's visibility
    files = set(in_process.repos["alice/both"].files)
    assert {"model.safetensors", "config.json", "README.md", "chat_template.jinja"} <= files
    assert not files & {"adapter_config.json", "adapter_model.safetensors"}  # no stale adapter beside the model
    assert second.check["ok"] and second.check["files_identical"], second.check
    assert second.merge["layers_changed"] == second.merge["layers_targeted"] > 0


def test_a_broken_upload_fails_the_check(in_process, tiny_sft_run):
    in_process.corrupt.add("adapter_model.safetensors")
    try:
        result = studio_hub.push_run(tiny_sft_run, "alice/broken", token=SECRET)
    finally:
        in_process.corrupt.clear()
    assert not result.check["ok"] and not result.check["files_identical"]
    assert "adapter_model.safetensors differ" in result.check["message"]


def test_repo_names_are_checked_before_anything_is_sent(in_process, tiny_sft_run):
    with pytest.raises(studio_hub.HubError, match="repo:"):
        studio_hub.push_run(tiny_sft_run, "bad--name", token=SECRET)
    with pytest.raises(studio_hub.HubError, match="repo: give a repository name"):
        studio_hub.push_run(tiny_sft_run, "  ", token=SECRET)


def test_a_training_with_hf_token_in_the_environment_writes_it_nowhere(tiny_config, runs_dir, monkeypatch):
    from studio.train.jobs.manager import JobManager

    monkeypatch.setenv("HF_TOKEN", SECRET)  # e.g. a Space secret, present while a visitor trains
    tiny_config.train.max_steps = 2
    jobs = JobManager(runs_dir)
    run = jobs.start(tiny_config)
    assert jobs.wait(300).status == "completed"
    files = [p for p in run.path.rglob("*") if p.is_file()]
    assert any(p.name == "training_args.bin" for p in files)  # the Trainer's pickle of its arguments
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]


@pytest.mark.heavy  # an export on the way (merge, write, read back): about a minute on two cores; CI pushes
# a GGUF through the Export tab instead (test_chat_e2e), on the export that test writes anyway
def test_a_checked_gguf_and_its_modelfile_arrive_with_a_card_that_says_how_to_run_them(in_process, tiny_sft_run):
    from studio.export import gguf_hub
    from studio.export.gguf import gguf_dir

    result = gguf_hub.push(tiny_sft_run, "tuned-GGUF", token=SECRET, gguf="q8_0", private=False)
    name = f"{tiny_sft_run.id}-q8_0.gguf"
    repo = in_process.repos["alice/tuned-GGUF"]
    assert set(repo.files) - {".gitattributes"} == {name, "Modelfile", "README.md", "gguf_check.json"}
    folder = gguf_dir(tiny_sft_run, "q8_0")  # the Export tab's export, written and checked on the way
    assert repo.files[name] == (folder / name).read_bytes()
    assert f"FROM ./{name}" in repo.files["Modelfile"].decode()
    card = repo.files["README.md"].decode()
    assert "library_name: gguf" in card and "- llama.cpp" in card
    assert f"llama-cli -m {name} -cnv" in card
    assert "ollama create tuned-gguf -f Modelfile\nollama run tuned-gguf" in card
    assert json.loads(repo.files["gguf_check.json"])["sha256"] in card
    assert result.what == "gguf-q8_0" and result.created and not repo.private
    assert result.check == {"ok": True, "files_identical": True, "message": "the files are identical"}
    assert tiny_sft_run.read_json("hub.json")["pushes"][-1]["repo_id"] == "alice/tuned-GGUF"


def test_a_gguf_changed_since_its_check_or_never_checked_is_never_pushed(in_process, tiny_sft_run):
    import shutil

    from studio.export import gguf_hub
    from studio.export.gguf import gguf_dir

    folder = gguf_dir(tiny_sft_run, "q5_0")  # an export as it lies on disk, written here by hand
    folder.mkdir(parents=True)
    try:
        path = folder / f"{tiny_sft_run.id}-q5_0.gguf"
        path.write_bytes(b"GGUF" + bytes(64))
        checked = {"file": str(path), "sha256": verify.file_sha256(path)}
        path.write_bytes(b"GGUF" + bytes(63) + b"\x01")  # one bit changed after the check
        (folder / "gguf_check.json").write_text(json.dumps(checked))
        with pytest.raises(studio_hub.HubError, match="not the file that passed its check.*write the GGUF again"):
            gguf_hub.push(tiny_sft_run, "changed-gguf", token=SECRET, gguf="q5_0")
        (folder / "gguf_check.json").write_text(json.dumps({"file": str(path)}))  # from before hashes were kept
        with pytest.raises(studio_hub.HubError, match="before exports recorded its checked hash; write it again"):
            gguf_hub.push(tiny_sft_run, "changed-gguf", token=SECRET, gguf="q5_0")
    finally:
        shutil.rmtree(folder)
    assert "alice/changed-gguf" not in in_process.repos


@pytest.mark.smoke  # a whole export (merge, write, read back) of the tiny run: CI's one GGUF written here
def test_a_gguf_that_failed_its_check_is_never_pushed(in_process, tiny_sft_run, monkeypatch):
    import shutil

    from studio.export import gguf_check, gguf_hub
    from studio.export.gguf import gguf_dir

    shutil.rmtree(gguf_dir(tiny_sft_run, "f32"), ignore_errors=True)
    monkeypatch.setitem(gguf_check.TOLERANCES, "f32", -1.0)  # no KL passes: the written file fails its check
    with pytest.raises(gguf_check.GGUFCheckError, match="failed its check"):
        gguf_hub.push(tiny_sft_run, "failed-gguf", token=SECRET, gguf="f32")
    assert "alice/failed-gguf" not in in_process.repos and not gguf_dir(tiny_sft_run, "f32").exists()
