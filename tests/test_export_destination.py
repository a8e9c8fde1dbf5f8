"""Exports delete only what they wrote (issue 32): --overwrite replaces a folder an earlier export
made (it holds .studio-export.json), never a folder of someone's files, the current folder or a run.

The refusals come before any weights are read, so a run with a fake adapter serves; the round
trip (an export replaced by the next) uses the tiny trained run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from studio.config import RunConfig
from studio.export import merge
from studio.export.destination import MARKER, prepare_out
from studio.export.gguf import export_gguf
from studio.runs.directory import new_run

from .conftest import ROOT


@pytest.fixture
def fake_run(runs_dir):
    """A run with a (fake) saved adapter, in the runs folder ($STUDIO_RUNS_DIR), away from the
    folders exported to: every refusal below comes before its weights are read."""
    run = new_run(RunConfig(), runs_dir)
    run.adapter_dir.mkdir()
    (run.adapter_dir / "adapter_config.json").write_text("{}")
    (run.adapter_dir / "adapter_model.safetensors").write_bytes(b"weights")
    run.set_status(status="completed")
    return run


@pytest.fixture
def decoy(tmp_path) -> Path:
    """Someone's folder: a file and a sub-folder, no marker."""
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    (folder / "sub" / "notes.md").write_text("also mine")
    return folder


def _intact(folder: Path) -> bool:
    return (folder / "keep.txt").read_text() == "mine" and (folder / "sub" / "notes.md").read_text() == "also mine"


EXPORTS = {
    "adapter": lambda run, out: merge.export_adapter(run, out, overwrite=True),
    "merged": lambda run, out: merge.merge(run, out, "bf16", overwrite=True),
    "gguf": lambda run, out: export_gguf(run, out, "q8_0", overwrite=True),
}


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_overwrite_never_empties_a_folder_no_export_made(fake_run, decoy, kind):
    with pytest.raises(ValueError, match=f"no studio export wrote.*no {MARKER}.*empty this one yourself"):
        EXPORTS[kind](fake_run, decoy)
    assert _intact(decoy)


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_overwrite_never_takes_the_current_folder_or_one_above_it(fake_run, decoy, kind, monkeypatch):
    monkeypatch.chdir(decoy / "sub")
    for out in (".", "..", str(decoy)):
        with pytest.raises(ValueError, match="is the current folder or holds it"):
            EXPORTS[kind](fake_run, out)
    assert _intact(decoy)


def test_an_earlier_export_is_replaced_and_an_empty_folder_used(fake_run, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_out(empty, run=fake_run) == empty  # an empty folder is fine as it is
    marker = json.loads((empty / MARKER).read_text())
    assert marker["run"] == fake_run.id and marker["kind"] == "adapter"
    (empty / "old-model.safetensors").write_bytes(b"old")  # what that export wrote
    with pytest.raises(ValueError, match="an earlier export.*--overwrite"):
        prepare_out(empty, run=fake_run)
    assert (empty / "old-model.safetensors").exists()
    prepare_out(empty, overwrite=True, run=fake_run, kind="merged model (bf16)")
    assert sorted(p.name for p in empty.iterdir()) == [MARKER]
    assert json.loads((empty / MARKER).read_text())["kind"] == "merged model (bf16)"


def test_an_export_replaces_its_own_and_leaves_the_run_folder_as_trained(tiny_sft_run, tmp_path):
    before = sorted(p.name for p in tiny_sft_run.path.iterdir())
    out = merge.export_adapter(tiny_sft_run, tmp_path / "adapter")
    assert json.loads((out / MARKER).read_text())["run"] == tiny_sft_run.id
    assert "![Training loss](loss.png)" in (out / "README.md").read_text() and (out / "loss.png").is_file()
    (out / "stale.bin").write_bytes(b"from an older export")
    again = merge.export_adapter(tiny_sft_run, out, overwrite=True)
    assert again == out and not (out / "stale.bin").exists() and (out / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in tiny_sft_run.path.iterdir()) == before  # no loss.png, no README in the run
    zipped = merge.zip_folder(out, tmp_path / "adapter.zip")
    assert MARKER in zipfile.ZipFile(zipped).namelist()  # a later --zip --overwrite knows it for an export's


def studio_cli(*args, cwd=ROOT):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


@pytest.mark.cli
def test_cli_export_overwrite_refuses_someone_s_folder_and_the_current_one(fake_run, decoy):
    common = ["export", "--run", str(fake_run.path), "--runs-dir", str(fake_run.path.parent), "--overwrite"]
    done = studio_cli(*common, "--out", str(decoy))
    assert done.returncode == 2, done.stderr
    assert "no studio export wrote" in done.stderr and "Traceback" not in done.stderr
    here = studio_cli(*common, "--out", ".", cwd=decoy)
    assert here.returncode == 2 and "is the current folder" in here.stderr, here.stderr
    assert _intact(decoy)
    (decoy.parent / "fresh.zip").write_bytes(b"someone's zip")  # where --out fresh --zip would write
    zipped = studio_cli(*common, "--out", str(decoy.parent / "fresh"), "--zip")
    assert zipped.returncode == 2 and "no studio export's zip" in zipped.stderr, zipped.stderr
    assert (decoy.parent / "fresh.zip").read_bytes() == b"someone's zip" and not (decoy.parent / "fresh").exists()
