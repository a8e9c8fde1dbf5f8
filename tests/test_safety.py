"""A studio safe to share (issue 13): what one person can read, break or fill, refused or survived.

Each case goes through the door it was found at: the services the UI calls, the CLI in a
subprocess (marked ``cli``), or app.py over HTTP (marked ``e2e``). A full disk is a faked write
error; a killed process is a run whose recorded pid is gone.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from studio.config import RunConfig
from studio.runs.directory import new_run
from studio.schema import ConfigError

from .conftest import ROOT

SECRET = {"password": ["hunter2"], "token": "hf_xyz"}


def studio_cli(*args, env_extra=None, timeout=300):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture
def allowed(tmp_path, monkeypatch) -> Path:
    """Only tmp_path/allowed may be read (beside uploads, assets and the runs folder)."""
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "ok.jsonl").write_text(json.dumps({"text": "hello"}) + "\n")
    (tmp_path / "secret.json").write_text(json.dumps(SECRET, indent=2))
    monkeypatch.setenv("STUDIO_ALLOWED_DIRS", str(folder))
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    return folder


def _refusal(source: str) -> str:
    from studio.data import load_data

    with pytest.raises(ValueError) as caught:
        load_data(source)
    return str(caught.value).replace(source, "<path>")


# -- files -------------------------------------------------------------------------------------------


def test_files_outside_the_allowed_folders_are_refused_alike(allowed, tmp_path, monkeypatch):
    from studio.data import load_data

    monkeypatch.chdir(allowed)
    existing, missing = str(tmp_path / "secret.json"), str(tmp_path / "nothing-here.json")
    messages = {_refusal(existing), _refusal(missing), _refusal("../secret.json"), _refusal("../nothing.json")}
    assert len(messages) == 1, messages  # the same words whether the file exists or not
    message = messages.pop()
    assert "outside the folders" in message and "--data-dir" in message
    assert "password" not in message and "not found" not in message
    assert load_data(str(allowed / "ok.jsonl")).rows  # the allowed folder, the assets: read
    assert load_data(str(ROOT / "assets" / "sample_sft.jsonl")).rows


def test_a_link_out_of_an_allowed_folder_is_refused(allowed, tmp_path):
    (allowed / "link.json").symlink_to(tmp_path / "secret.json")
    assert "outside the folders" in _refusal(str(allowed / "link.json"))


def test_a_space_reads_only_uploads_and_data(tmp_path, monkeypatch):
    from studio.data import load_data

    monkeypatch.setenv("SPACE_ID", "someone/studio")
    monkeypatch.delenv("STUDIO_ALLOWED_DIRS")
    monkeypatch.delenv("STUDIO_DATA_DIRS", raising=False)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.jsonl").write_text(json.dumps({"text": "hi"}) + "\n")
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "up.jsonl").write_text(json.dumps({"text": "hi"}) + "\n")
    assert "outside the folders" in _refusal("here.jsonl")  # the app's own folder is not readable
    assert load_data(str(tmp_path / "uploads" / "up.jsonl")).rows


def test_a_previewed_file_leaves_no_copy_in_the_datasets_cache(tmp_path):
    import datasets

    from studio.data import load_data

    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps({"text": f"row {i} " + "x" * 200}) + "\n" for i in range(2000)))
    cache = Path(datasets.config.HF_DATASETS_CACHE)
    before = set(cache.rglob("*")) if cache.exists() else set()
    assert len(load_data(str(source)).rows) == 2000
    after = set(cache.rglob("*")) if cache.exists() else set()
    assert not {p for p in after - before if p.is_file() and p.stat().st_size > 100_000}


@pytest.mark.cli
def test_cli_data_preview_reads_a_file_outside_the_apps_folders(allowed, tmp_path):
    """A command runs with its user's rights (issue 27): the app's folders do not bind it."""
    (tmp_path / "elsewhere.jsonl").write_text(json.dumps({"text": "hello"}) + "\n")
    done = studio_cli("data", "preview", str(tmp_path / "elsewhere.jsonl"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["num_rows"] == 1


# -- runs ----------------------------------------------------------------------------------------------


@pytest.fixture
def outside_run(tmp_path) -> Path:
    """A folder outside the runs folder that looks like a run."""
    folder = tmp_path / "elsewhere" / "fake-run"
    folder.mkdir(parents=True)
    RunConfig().save(folder / "config.yaml")
    return folder


@pytest.fixture
def studio(tmp_path):
    from studio.services import Studio

    (tmp_path / "runs").mkdir(exist_ok=True)
    return Studio(tmp_path / "runs")


def test_run_ids_resolve_only_inside_the_runs_folder(studio, outside_run, tmp_path):
    refs = [str(outside_run), "../elsewhere/fake-run", str(tmp_path / "elsewhere" / "missing"), "../../", ""]
    for ref in refs:
        for call in (studio.run, studio.held_out_prompts, studio.eval_results, studio.evaluate):
            with pytest.raises(ValueError, match="is not a run in the runs folder"):
                call(ref)
    assert not (outside_run / "eval.json").exists()


def test_chat_sources_load_only_from_runs(studio, outside_run):
    (outside_run / "adapter").mkdir()
    for source in (str(outside_run / "adapter"), str(outside_run), "/etc"):
        with pytest.raises(ValueError, match="not a run's adapter or checkpoint in the runs folder"):
            next(studio.chat_stream([{"role": "user", "content": "hi"}], [None, source], None))
        with pytest.raises(ValueError, match="not a run's adapter or checkpoint"):
            studio.chat.load_source(source)


# -- exports -------------------------------------------------------------------------------------------


@pytest.fixture
def trained_run(tmp_path) -> Path:
    """A run with a (fake) saved adapter: prepare_out is reached before any weights are read."""
    run = new_run(RunConfig(), tmp_path / "runs")
    run.adapter_dir.mkdir()
    (run.adapter_dir / "adapter_config.json").write_text("{}")
    (run.adapter_dir / "adapter_model.safetensors").write_bytes(b"weights")
    run.set_status(status="completed")
    return run.path


@pytest.mark.parametrize("merged", [False, True])
def test_an_export_never_writes_into_or_deletes_a_run(trained_run, merged):
    from studio.export import merge
    from studio.runs.directory import open_run

    run = open_run(trained_run)
    export = (
        (lambda out: merge.merge(run, out, overwrite=True))
        if merged
        else (lambda out: merge.export_adapter(run, out, overwrite=True))
    )
    for out in (run.adapter_dir, run.path, run.path.parent, run.checkpoints_dir):
        with pytest.raises(ValueError, match="inside the run|holds runs"):
            export(out)
    assert (run.adapter_dir / "adapter_model.safetensors").read_bytes() == b"weights"
    assert run.config_path.exists()


@pytest.mark.cli
def test_cli_export_overwrite_keeps_the_run(trained_run):
    for out in (trained_run / "adapter", trained_run):
        done = studio_cli(
            "export", "--run", str(trained_run), "--runs-dir", str(trained_run.parent), "--out", str(out), "--overwrite"
        )
        assert done.returncode == 2, done.stderr
        assert "inside the run" in done.stderr and "Traceback" not in done.stderr
    assert (trained_run / "adapter" / "adapter_model.safetensors").read_bytes() == b"weights"
    assert (trained_run / "config.yaml").exists()


# -- admission -----------------------------------------------------------------------------------------


def test_a_run_that_does_not_fit_the_free_memory_is_refused_before_it_starts(studio, tiny_config, monkeypatch):
    from studio.train.jobs import admission

    monkeypatch.setattr(admission, "device_free_bytes", lambda: 2**26)  # 64 MiB free: under what the run adds
    with pytest.raises(ConfigError) as caught:
        studio.start_training(tiny_config)
    message = str(caught.value)
    assert message.startswith("memory: needs about") and "GiB is free" in message
    for fix in ("batch_size", "qlora", "gradient_checkpointing", "max_length"):
        assert fix in message
    assert not studio.jobs.active and studio.runs() == []


@pytest.mark.cli
def test_cli_refuses_a_batch_that_cannot_fit(tiny_config, tmp_path):
    config = tiny_config.save(tmp_path / "run.yaml")
    runs = tmp_path / "runs"
    done = studio_cli("train", str(config), "--runs-dir", str(runs), "--batch-size", "1000000000", timeout=180)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "batch_size" in done.stderr
    assert not runs.exists() or not list(runs.iterdir())


# -- faults --------------------------------------------------------------------------------------------


def _jobs_with_saves(tiny_config, tmp_path):
    from studio.train.jobs.manager import JobManager

    tiny_config.train.max_steps, tiny_config.train.save_steps = 3, 1
    return JobManager(tmp_path / "runs")


def test_a_full_disk_while_saving_fails_in_one_line_and_keeps_the_last_checkpoint(tiny_config, tmp_path, monkeypatch):
    from transformers import Trainer

    original, calls = Trainer._save_checkpoint, []

    def save(self, *args, **kwargs):
        calls.append(self.state.global_step)
        if len(calls) == 1:
            return original(self, *args, **kwargs)
        half = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        half.mkdir(parents=True)
        (half / "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    jobs = _jobs_with_saves(tiny_config, tmp_path)
    run = jobs.start(tiny_config, background=False)
    status = run.read_json("status.json")
    assert status["status"] == "failed" and jobs.snapshot().error == status["error"]
    assert status["error"].startswith("disk full at step") and "\n" not in status["error"]
    assert [p.name for p in run.checkpoints()] == ["checkpoint-1"]  # the last good one, kept
    assert not (run.checkpoints_dir / "checkpoint-2").exists()  # the half-written one, gone
    assert not run.adapter_dir.exists()


def test_torch_s_words_for_a_full_disk_are_read_as_one(tmp_path):
    from studio.train.jobs.faults import cause

    run = new_run(RunConfig(), tmp_path / "runs")
    exc = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 128 vs 64")
    assert cause(exc, run, 7).startswith("disk full at step 7")
    assert cause(MemoryError(), run, 3).startswith("out of memory at step 3")
    assert cause(ValueError("one\ntwo"), run) == "ValueError: one"


def test_memory_error_in_a_step_fails_the_run_in_one_line(tiny_config, tmp_path, monkeypatch):
    from transformers import Trainer

    def step(self, *args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(Trainer, "training_step", step)
    jobs = _jobs_with_saves(tiny_config, tmp_path)
    run = jobs.start(tiny_config, background=False)
    status = run.read_json("status.json")
    assert status["status"] == "failed" and status["error"].startswith("out of memory at step 0")
    assert "batch_size" in status["error"] and "\n" not in status["error"]


def test_a_new_run_on_a_full_disk_leaves_nothing_behind(studio, tiny_config, monkeypatch):
    def save(self, path):
        Path(path).write_text("")  # the file is made, its content does not fit
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunConfig, "save", save)
    with pytest.raises(ValueError, match="No space left on device.*free disk space"):
        studio.start_training(tiny_config)
    assert studio.runs() == [] and list(studio.root.iterdir()) == []


def test_a_killed_training_is_recorded_as_interrupted(tmp_path):
    from studio.train.jobs.manager import JobManager

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run = new_run(RunConfig(), tmp_path / "runs")
    run.set_status(status="running", pid=gone.pid)
    JobManager(tmp_path / "runs")  # a restarted app or CLI
    status = run.read_json("status.json")
    assert status["status"] == "interrupted"
    assert f"pid {gone.pid}" in status["error"] and "\n" not in status["error"]


# -- the page ------------------------------------------------------------------------------------------


def test_dataset_text_is_shown_as_text_in_the_data_summary(tmp_path, tokenizer):
    from studio.data import load_data
    from studio.data.preview import preview
    from studio.ui.data_tab import _summary

    column = "<img src=x onerror=alert(1)>"
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"text": "hi", column: "**bold** <b>x</b>"}) + "\n")
    data = load_data(str(source))
    text = _summary(data, preview(data, tokenizer))
    assert "<img" not in text and "&lt;img" in text


def test_wrong_logins_are_rate_limited():
    from studio.ui.login import LoginLimiter, Throttled

    now = [0.0]
    limiter = LoginLimiter(("me", "right"), max_failures=5, window=60, clock=lambda: now[0])
    assert limiter.check("me", "right", "10.0.0.1")
    assert not any(limiter.check("me", f"guess-{i}", "10.0.0.1") for i in range(5))
    for _ in range(25):  # the rest of 30 guesses in a burst: refused unchecked
        with pytest.raises(Throttled, match="from your address"):
            limiter.check("me", f"guess-{_}", "10.0.0.1")
    with pytest.raises(Throttled, match="wait 60 s"):
        limiter.check("me", "right", "10.0.0.1")  # held while the guesses are recent, from that address
    assert limiter.check("me", "right", "10.0.0.2")  # another client is not
    now[0] = 61.0
    assert limiter.check("me", "right", "10.0.0.1")


def test_app_turns_gradio_telemetry_off():
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    code = "import app; from gradio.analytics import analytics_enabled; print(analytics_enabled())"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.e2e
def test_app_login_is_limited_per_client_over_http(tmp_path, monkeypatch):
    """Guesses at bob's name from one client (127.0.0.1) hold that client, saying so and for how long;
    alice and bob still log in from another (127.0.0.2), both real loopback source addresses."""
    import http.client
    import socket

    from .apphost import running_app

    try:
        socket.create_server(("127.0.0.2", 0)).close()
    except OSError:
        pytest.skip("this machine has no 127.0.0.2 on its loopback interface")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("STUDIO_AUTH", "alice:pw-a,bob:pw-b")
    runs = tmp_path / "runs"
    runs.mkdir()

    def login(source: str, user: str, password: str) -> tuple[int, str | None, dict]:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
        body = urllib.parse.urlencode({"username": user, "password": password})
        client.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = client.getresponse()
        try:
            return response.status, response.getheader("Retry-After"), json.loads(response.read())
        finally:
            client.close()

    with running_app(runs) as url:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert login("127.0.0.1", "alice", "pw-a")[0] == 200
        assert [login("127.0.0.1", "bob", f"guess-{i}")[0] for i in range(5)] == [400] * 5
        for user, password in (("bob", "guess-5"), ("alice", "pw-a")):
            status, retry_after, body = login("127.0.0.1", user, password)
            assert status == 429, body  # throttled, not "Incorrect credentials."
            wait = int(retry_after)
            assert 0 < wait <= 60
            assert body["detail"] == f"Too many attempts from your address: wait {wait} s and try again."
        assert login("127.0.0.2", "alice", "pw-a")[0] == 200  # the other client: not held
        assert login("127.0.0.2", "bob", "pw-b")[0] == 200
