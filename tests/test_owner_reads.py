"""Every path the app reads for a signed-in person goes through the owner rule of the Runs tab
(issue 32): a file inside a run folder is its owner's, or everyone's once the run is shared.
The command line reads what its user names (issue 27).

The app's reads go through the services the tabs call (studio.services.Studio); the CLI through
``studio.cli.main``, in this process.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from studio.config import RunConfig
from studio.runs.directory import new_run
from studio.runs.owners import claim
from studio.schema import ConfigError
from studio.services import Studio

from .conftest import tiny_recipe

ROW = json.dumps({"prompt": "private question", "response": "private answer"}) + "\n"


@pytest.fixture
def alices(tmp_path, monkeypatch, runs_dir):
    """Alice's run (probes, metrics with a telling column, a model folder) in a studio that reads
    only tmp_path/allowed beside its own folders; a file outside holds the same rows."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("STUDIO_ALLOWED_DIRS", str(allowed))
    run = new_run(RunConfig(run_name="alices"), runs_dir)
    claim(run, "alice")
    (run.path / "probes.jsonl").write_text(ROW)
    (run.path / "metrics.jsonl").write_text(json.dumps({"step": 1, "secret_column": 0.5}) + "\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "data.jsonl").write_text(ROW)
    return run


def _refusal(call, path) -> str:
    with pytest.raises(ValueError) as caught:
        call(str(path))
    return str(caught.value).replace(str(path), "<path>")


def test_another_persons_run_file_reads_like_a_missing_file_and_one_outside(alices, runs_dir, tmp_path):
    studio = Studio(runs_dir)
    paths = [
        alices.path / "probes.jsonl",
        alices.path / "metrics.jsonl",
        alices.path / "nothing.jsonl",  # missing, in her run
        runs_dir / "20990101-000000-alices-0a1b2c3d" / "probes.jsonl",  # a guessed run id
        tmp_path / "allowed" / "missing.jsonl",  # missing, in an allowed folder
        tmp_path / "outside" / "data.jsonl",
    ]
    messages = {_refusal(lambda p: studio.load_data(p, user="bob"), path) for path in paths}
    assert len(messages) == 1, messages  # the same words: nothing tells which exists
    message = messages.pop()
    assert "private" not in message and "secret_column" not in message
    assert "--data-dir FOLDER" in message and "another person's run" in message
    assert studio.load_data(str(alices.path / "probes.jsonl"), user="alice").rows  # her own
    assert studio.load_data(str(alices.path / "probes.jsonl")).rows  # the operator (no user)


def test_a_shared_run_file_reads_for_everyone(alices, runs_dir):
    studio = Studio(runs_dir)
    probes = str(alices.path / "probes.jsonl")
    with pytest.raises(ValueError, match="another person's run"):
        studio.load_data(probes, user="bob")
    studio.share_run(alices.id, True, "alice")
    assert studio.load_data(probes, user="bob").rows
    studio.share_run(alices.id, False, "alice")
    with pytest.raises(ValueError, match="another person's run"):
        studio.load_data(probes, user="bob")


def test_another_persons_run_is_no_model_folder_and_no_training_data(alices, runs_dir, tiny_model_dir):
    studio = Studio(runs_dir)
    model = alices.path / "model"
    shutil.copytree(tiny_model_dir, model)
    words = {_refusal(lambda p: studio.tokenizer(p, "bob"), path) for path in (model, alices.path / "missing")}
    assert len(words) == 1 and "another person's run" in words.pop()
    assert studio.tokenizer(str(model), "alice") is not None

    stolen = tiny_recipe(model, dataset=str(alices.path / "probes.jsonl"))
    fields = {p.field for p in studio.review(stolen, user="bob").errors}
    assert {"dataset", "model"} <= fields
    with pytest.raises(ConfigError, match="another person's run"):
        studio.start_training(stolen, "bob")
    assert [r.id for r in studio.runs()] == [alices.id]  # nothing was queued


def test_a_refused_chat_adapter_is_named_with_what_is_accepted(alices, runs_dir):
    studio = Studio(runs_dir)
    adapter = alices.adapter_dir
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ValueError) as caught:
        studio._sources([str(adapter)], "bob")
    message = str(caught.value)
    assert message.startswith(f"adapter: {adapter} is not") and "<runs>/<run id>/adapter" in message


# -- the command line: its user's rights ----------------------------------------------------------------


def test_the_cli_reads_a_file_and_a_model_folder_outside_the_apps_folders(
    alices, tmp_path, tiny_model_dir, capsys, monkeypatch
):
    from studio.cli import main
    from studio.data import load_data
    from studio.data.access import reads_anywhere

    outside = tmp_path / "outside" / "data.jsonl"
    model = tmp_path / "outside" / "model"
    shutil.copytree(tiny_model_dir, model)
    monkeypatch.chdir(tmp_path / "outside")
    assert main(["data", "preview", str(outside), "--model", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_rows"] == 1
    assert main(["model", "path", "--model", str(model)]) == 0
    assert capsys.readouterr().out.strip() == str(model)
    assert main(["data", "preview", str(tmp_path / "nope.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err  # the operator may know what is missing
    assert not reads_anywhere()  # the app in this process keeps its folders
    with pytest.raises(ValueError, match="outside the folders"):
        load_data(str(outside), user="bob")


def test_a_ragged_csv_is_named_once_not_logged_by_datasets_first(tmp_path, caplog):
    from studio.data.sources import DataError, read_file

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n6,7\n")
    with caplog.at_level(logging.INFO), pytest.raises(DataError, match="line 3 has 3 fields"):
        read_file(ragged)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_an_app_refusal_reads_nothing_first(alices, runs_dir, monkeypatch):
    """Refused before the file is read: no parse error can tell another person's file from a missing one."""
    opened = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: opened.append(self) or b"")
    with pytest.raises(ValueError, match="another person's run"):
        Studio(runs_dir).load_data(str(alices.path / "probes.jsonl"), user="bob")
    assert opened == []
