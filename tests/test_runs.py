"""Runs are never lost: stop and SIGKILL resume at the right step, history after a restart, refusals."""

import json
import os
import subprocess
import sys
import time

import pytest

from studio.runs.segments import read_segments
from studio.schema import ConfigError
from studio.services import Studio
from studio.train.jobs.manager import JobManager

from .conftest import ROOT, start_and_stop, train_until_sigkill
from .test_run_segments import check_accounting


def loss_steps(run) -> list[int]:
    return [m["step"] for m in run.metrics() if "loss" in m]


@pytest.mark.cli
def test_sigkill_mid_run_resumes_from_the_last_checkpoint(tiny_config, tmp_path):
    tiny_config.train.max_steps = 10
    tiny_config.train.save_steps = 1
    tiny_config.train.save_total_limit = 2
    tiny_config.train.batch_size = 2
    runs = tmp_path / "runs"
    run = train_until_sigkill(tiny_config, tmp_path, runs)
    assert run.status()["status"] == "interrupted"  # its pid is gone
    killed_at = int(run.last_checkpoint().name.split("-")[1])  # the last complete one (a save may be torn)
    assert 3 <= killed_at < 10
    killed = read_segments(run.path)  # the killed segment counts up to its last write
    assert len(killed) == 1 and killed[0]["ended"] == "interrupted" and killed[0]["to_step"] >= 3
    assert run.summary()["train_seconds"] == killed[0]["train_seconds"] > 0  # no summary.json yet

    result = subprocess.run(
        [sys.executable, "-m", "studio", "train", "--resume", str(run.path), "--runs-dir", str(runs), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(run.path)
    status = run.status()
    assert status["status"] == "completed" and status["step"] == 10
    steps = loss_steps(run)
    assert steps == list(range(1, 11))  # continued after the checkpoint: no step twice, none missing
    assert f"(step {killed_at})" in run.log_path.read_text()
    state = json.loads((run.last_checkpoint() / "trainer_state.json").read_text())
    assert state["global_step"] == 10
    segments = check_accounting(run, ["interrupted", "completed"])  # summary, history and card count both
    assert segments[1]["from_step"] <= segments[0]["to_step"] and segments[1]["to_step"] == 10


def test_stop_resume_probes_and_history_after_restart(tiny_config, runs_dir):
    tiny_config.train.max_steps = 8
    tiny_config.train.batch_size = 2
    tiny_config.train.learning_rate = 0.05
    tiny_config.data.val_fraction = 0.2
    tiny_config.train.eval_steps = 3
    tiny_config.probes.probe_prompts = "Who are you?\nName a colour."
    tiny_config.probes.probe_max_new_tokens = 6
    jobs = JobManager()
    run, stopped = start_and_stop(jobs, tiny_config)
    assert run.last_checkpoint().name == f"checkpoint-{stopped.step}"  # saved at the stop step

    jobs.start(None, resume=run.path)
    done = jobs.wait(120)
    assert done.status == "completed", done.error
    assert loss_steps(run) == list(range(1, 9))

    probes = run.probes()
    assert {p["step"] for p in probes} >= {0, 3, 6, 8}
    assert all(isinstance(p["answer"], str) for p in probes)
    assert len([p for p in probes if p["step"] == 0]) == 2  # the base answered once, not again on resume
    base_answers = [p["answer"] for p in probes if p["step"] == 0]
    from studio.models.loading import load_model, load_tokenizer
    from studio.train.probes import answer

    fresh = load_model(tiny_config.model.model)
    tokenizer = load_tokenizer(tiny_config.model.model)
    assert base_answers == answer(fresh, tokenizer, ["Who are you?", "Name a colour."], 6)

    # A restarted app (a new service object) lists the run with its status and best numbers.
    rows = [r.summary() for r in Studio(runs_dir).runs()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["status"], row["step"], row["total_steps"]) == ("completed", 8, 8)
    assert row["best_eval_loss"] is not None and row["last_loss"] is not None
    assert row["peak_memory_gib"] is not None and row["estimated_memory_gib"] is not None
    assert json.loads((run.path / "estimate.json").read_text())["trainable_params"] > 0


def test_resume_is_refused_with_the_reason(tiny_config, runs_dir, tmp_path):
    jobs = JobManager()
    run = jobs.start(tiny_config)  # save_steps 0: no checkpoint until the end
    assert jobs.wait(120).status == "completed"
    with pytest.raises(ConfigError, match="already completed"):
        jobs.start(None, resume=run.path)

    run.set_status(status="stopped")
    with pytest.raises(ConfigError, match="no checkpoint to resume from"):
        jobs.start(None, resume=run.path)

    (run.checkpoints_dir / "checkpoint-2").mkdir(parents=True)
    (run.checkpoints_dir / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    data = tmp_path / "changed.jsonl"
    data.write_text((ROOT / "assets" / "sample_sft.jsonl").read_text().replace("Arr", "Ahoy"))
    config = run.config()
    config.data.dataset = str(data)
    config.save(run.config_path)
    run.write_json("dataset.json", {**run.read_json("dataset.json"), "source": str(data)})
    with pytest.raises(ConfigError, match="changed since"):
        jobs.start(None, resume=run.path)


def test_run_history_reads_killed_runs_and_deletes(tiny_config, runs_dir):
    from studio.runs.directory import new_run

    run = new_run(tiny_config, runs_dir)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.set_status(status="running", pid=dead.pid, started=time.time())
    with run.metrics_path.open("w") as fh:
        fh.write(json.dumps({"step": 1, "loss": 2.0}) + "\n" + json.dumps({"step": 2, "eval_loss": 1.5}) + "\n")
        fh.write('{"step": 3, "lo')  # torn by the kill
    studio = Studio(runs_dir)
    row = studio.runs()[0].summary()
    assert (row["status"], row["step"], row["last_loss"], row["best_eval_loss"]) == ("interrupted", 2, 2.0, 1.5)
    assert row["eval_perplexity"] is None
    run.write_json("eval.json", {"base": {"perplexity": 12.34567}, "adapter": {"perplexity": 8.5}})
    assert studio.runs()[0].summary()["eval_perplexity"] == {"base": 12.346, "adapter": 8.5}

    run.set_status(status="running", pid=os.getpid())
    with pytest.raises(ValueError, match="still training"):
        studio.delete_run(run.id)
    run.set_status(status="stopped")
    studio.delete_run(run.id)
    assert studio.runs() == []


def test_every_reader_sees_a_killed_run_as_interrupted_with_its_cause(tiny_config, runs_dir, capsys):
    """status.json still says running after a SIGKILL (nothing wrote its end): the run, its view in
    the Runs tab, the CLI's history and Resume's list all read it as interrupted,
    with the cause, whether or not the app has settled the file yet."""
    from studio.cli import main
    from studio.runs.directory import new_run

    run = new_run(tiny_config, runs_dir)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.set_status(status="running", pid=dead.pid, error="", total_steps=3)
    saved = run.checkpoints_dir / "checkpoint-2"
    saved.mkdir(parents=True)
    (saved / "trainer_state.json").write_text('{"global_step": 2, "max_steps": 3}')
    cause = f"the training process (pid {dead.pid}) ended without finishing (killed?); resume from checkpoint-2"
    assert (run.status()["status"], run.status()["error"]) == ("interrupted", cause)
    assert main(["runs", "--runs-dir", str(runs_dir), "--json"]) == 0  # the CLI settles nothing
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["status"], row["error"]) == ("interrupted", cause)
    assert run.read_json("status.json")["status"] == "running"  # only read so far
    studio = Studio(runs_dir)  # the app settles the file when it starts, in the same words
    assert run.read_json("status.json")["status"] == "interrupted"
    view = studio.run_view(run.id)["summary"]
    assert (view["status"], view["error"]) == ("interrupted", cause)
    assert studio.resumable_runs() == [run.id]


def test_config_differences_list_only_the_fields_that_differ_in_file_order():
    from studio.config import RunConfig
    from studio.runs.diff import config_differences

    a, b, c = RunConfig(), RunConfig(), RunConfig()
    b.train.learning_rate, c.train.learning_rate = 5e-4, 5e-4
    c.adapter.lora_r = 32
    old = a.to_dict()
    del old["grpo"]  # a config written before GRPO existed
    rows = config_differences({"a": old, "b": b.to_dict(), "c": c.to_dict()})
    fields = [r["field"] for r in rows]
    assert fields[:2] == ["adapter.lora_r", "train.learning_rate"]
    assert rows[0] == {"field": "adapter.lora_r", "a": a.adapter.lora_r, "b": a.adapter.lora_r, "c": 32}
    assert rows[1]["b"] == rows[1]["c"] == 5e-4 != rows[1]["a"]
    assert all(f.startswith("grpo.") for f in fields[2:]) and rows[2]["a"] is None  # missing, not equal
    assert config_differences({"a": b.to_dict(), "b": b.to_dict()}) == []
    assert config_differences({"a": a.to_dict()}) == []


def test_run_ids_sort_by_time_and_cannot_be_guessed_from_name_and_second(runs_dir):
    from studio.config import RunConfig
    from studio.runs.directory import new_run

    config = RunConfig(run_name="same")
    first, second = new_run(config, runs_dir), new_run(config, runs_dir)
    assert first.id != second.id
    stamp = time.strftime("%Y%m%d")
    for run in (first, second):
        assert run.id.startswith(stamp) and "-same-" in run.id  # readable: the time, then the name
        assert len(run.id.rsplit("-", 1)[1]) >= 6  # then a random part, not a counter
    assert first.id.rsplit("-", 1)[1] != "2" and second.id.rsplit("-", 1)[1] != "2"


@pytest.mark.parametrize(
    "name, kept",
    [("Überprüfung 東京", "überprüfung-東京"), ("../../etc", "etc"), ("a/b\\c", "a-b-c"), ("..", "run"), (" ", "run")],
)
def test_run_names_keep_letters_of_any_script_and_stay_one_folder(runs_dir, name, kept):
    from studio.config import RunConfig
    from studio.runs.directory import new_run

    run = new_run(RunConfig(run_name=name), runs_dir)
    assert run.path.parent == runs_dir
    assert run.id.split("-", 2)[2].rsplit("-", 1)[0] == kept
