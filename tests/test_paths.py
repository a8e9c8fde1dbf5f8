"""The studio's folders (studio.paths): one leaf module, the renamed variables, the inside rule."""

from __future__ import annotations

import logging
import os

import pytest

from studio import paths
from studio.data.access import readable
from studio.data.clean import default_output


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    for name in paths.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(paths, "_warned", set())


def test_the_new_names_say_which_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CLEANED_DIR", str(tmp_path / "cleaned"))
    monkeypatch.setenv("STUDIO_ALLOWED_DIRS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert default_output("data.jsonl", "ab12").parent == tmp_path / "cleaned"
    assert paths.allowed_dirs() == [tmp_path / "a", tmp_path / "b"]


@pytest.mark.parametrize(("old", "new"), sorted(paths.RENAMED.items()))
def test_an_old_name_still_works_and_says_so_once(old, new, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(old, str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="studio.paths"):
        assert paths.env(new) == str(tmp_path)
        assert paths.env(new) == str(tmp_path)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"${old} is deprecated: set ${new} instead (the same value)"]
    monkeypatch.setenv(new, str(tmp_path / "new"))  # the new name wins
    assert paths.env(new) == str(tmp_path / "new")


def test_the_old_allowed_name_still_opens_a_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.jsonl").write_text('{"text": "hi"}\n')
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the default allowed folder: the current one
    assert not readable(tmp_path / "data" / "rows.jsonl")
    monkeypatch.setenv("STUDIO_DATA_DIRS", str(tmp_path / "data"))
    assert readable(tmp_path / "data" / "rows.jsonl")


def test_inside_follows_dots_and_links(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "in" / "link").symlink_to(tmp_path / "out")
    assert paths.inside(tmp_path / "in" / "x.jsonl", [tmp_path / "in"])
    assert not paths.inside(tmp_path / "in" / ".." / "out" / "x.jsonl", [tmp_path / "in"])
    assert not paths.inside(tmp_path / "in" / "link" / "x.jsonl", [tmp_path / "in"])
    assert paths.inside(tmp_path / "in" / "link" / "x.jsonl", [tmp_path / "nowhere", tmp_path / "out"])


def test_runs_root_and_cache(tmp_path, monkeypatch):
    assert paths.runs_root() == paths.Path("runs")
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "c"))
    assert paths.runs_root() == tmp_path / "r"
    assert paths.cleaned_dir() == tmp_path / "c" / "datasets"
