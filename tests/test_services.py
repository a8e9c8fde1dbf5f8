"""The services the Runs and Evaluate tabs render: what a run shows, overlays, and the files to download.

The tabs only render these; the files (comparison CSV, evaluation files) are written by the services.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from studio.services import Studio


@pytest.fixture
def studio(tiny_sft_run, tmp_path):
    """A studio over a copy of the finished tiny run, without any evaluation in it."""
    root = tmp_path / "runs"
    shutil.copytree(tiny_sft_run.path, root / tiny_sft_run.id)
    for name in ("eval.json", "eval_generations.csv"):
        (root / tiny_sft_run.id / name).unlink(missing_ok=True)
    return Studio(root)


def test_a_run_view_holds_its_curves_config_probes_and_log(studio, tiny_sft_run):
    probes = [{"step": 0, "prompt": "Who?", "answer": "A model."}, {"step": 8, "prompt": "Who?", "answer": "Arr!"}]
    (studio.run(tiny_sft_run.id).path / "probes.jsonl").write_text("".join(json.dumps(p) + "\n" for p in probes))
    view = studio.run_view(tiny_sft_run.id)
    losses = [m for m in tiny_sft_run.metrics() if "loss" in m]
    train_trace = next(t for t in view["figure"].data if t.name == "train loss")
    assert list(train_trace.x) == [m["step"] for m in losses]
    assert view["config"] == (studio.run(tiny_sft_run.id).path / "config.yaml").read_text()
    assert view["summary"]["run"] == tiny_sft_run.id and view["summary"]["status"] == "completed"
    headers, rows = view["probes"]
    assert headers[0] == "prompt" and [row[:3] for row in rows] == [["Who?", "A model.", "Arr!"]]


def test_an_overlay_falls_back_to_a_metric_the_runs_have(studio, tiny_sft_run):
    figure, keys, key = studio.compare_runs([tiny_sft_run.id], "no_such_metric")
    assert key == keys[0] == "loss" and "learning_rate" in keys
    assert [t.name for t in figure.data] == [tiny_sft_run.id]
    with pytest.raises(ValueError):
        studio.compare_runs(["no-such-run"])


def test_evaluation_files_are_those_saved_in_the_run(studio, tiny_sft_run):
    assert studio.eval_files(tiny_sft_run.id) == []
    studio.run(tiny_sft_run.id).write_json("eval.json", {"base": {}, "adapter": {}})
    assert [p.rsplit("/", 1)[-1] for p in studio.eval_files(tiny_sft_run.id)] == ["eval.json"]


def test_a_batch_comparison_is_saved_into_the_run(studio, tiny_sft_run):
    rows = [{"prompt": "Hi, you?", "base": "Hello.", "adapter": "Arr, ahoy!", "same": False, "similarity": 0.0}]
    path = studio.compare_csv(tiny_sft_run.id, rows)
    assert path == str(studio.run(tiny_sft_run.id).path / "batch_compare.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [
            ["prompt", "base", "adapter", "identical", "word_overlap"],
            ["Hi, you?", "Hello.", "Arr, ahoy!", "False", "0.0"],
        ]
