"""Benchmarks through lm-evaluation-harness on the tiny model: the shipped offline tasks, base vs adapter,
limit, progress, Stop, the saved benchmarks.json, the service, the CLI and the model card."""

import json
import shutil
import threading
from pathlib import Path

import pytest

from studio.chat.engine import ChatEngine
from studio.evaluate import bench_tasks
from studio.evaluate.bench_options import BenchOptions
from studio.evaluate.benchmarks import run_benchmarks
from studio.models import loading
from studio.runs.directory import open_run

from .conftest import free_port
from .test_cli import studio

FACTS = {"acc", "acc_norm", "brier_score"}


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return ChatEngine(str(tiny_model_dir))


def test_the_offline_tasks_come_first_then_the_standard_ones():
    tasks = bench_tasks.catalogue()
    assert [(t.name, t.offline) for t in tasks[:2]] == [("studio_arithmetic", True), ("studio_facts", True)]
    assert all(t.about for t in tasks) and not any(t.offline for t in tasks[2:])
    assert {"mmlu", "hellaswag", "arc_easy", "gsm8k", "truthfulqa_mc2"} <= {t.name for t in tasks}


def test_each_standard_task_is_indexed_from_its_own_folder_of_the_harness():
    # Breaks when lm-eval moves a task: the quick index would no longer find it.
    for name, (folder, _) in bench_tasks.STANDARD.items():
        assert name in bench_tasks._manager((folder,)).all_tasks, (name, folder)


def test_offline_tasks_reach_the_harness_with_their_data_files_made_absolute():
    _, specs = bench_tasks.resolve(["studio_facts", "studio_arithmetic"])
    facts, arithmetic = specs
    assert (facts["output_type"], arithmetic["output_type"]) == ("multiple_choice", "generate_until")
    for spec in specs:
        assert spec["dataset_path"] == "json"
        files = spec["dataset_kwargs"]["data_files"]
        assert all(Path(f).is_absolute() and Path(f).exists() for f in files.values())


def test_a_hub_task_while_the_hub_is_out_of_reach_is_one_clear_line(monkeypatch):
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        pytest.skip("HF_HUB_OFFLINE was set when huggingface_hub was imported")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setitem(loading._hub_state, "checked", 0.0)
    with pytest.raises(ValueError, match="arc_easy needs its data from the Hugging Face Hub") as caught:
        bench_tasks.resolve(["studio_facts", "arc_easy"])
    assert "studio_arithmetic, studio_facts" in str(caught.value)


@pytest.mark.heavy  # indexes every task the harness ships: ~20 s on two cores
def test_an_unknown_task_names_what_is_available():
    with pytest.raises(ValueError, match="no_such_task: the harness knows no such task") as caught:
        bench_tasks.resolve(["no_such_task"])
    assert "studio_facts" in str(caught.value) and "mmlu" in str(caught.value)


def test_base_and_adapter_are_scored_with_errors_and_saved_into_the_run(engine, tiny_sft_run):
    seen = []
    result = run_benchmarks(engine, tiny_sft_run, BenchOptions(limit=3), progress=seen.append)
    assert result["status"] == "completed" and not result["stopped_at"]
    facts, arithmetic = result["tasks"]["studio_facts"], result["tasks"]["studio_arithmetic"]
    assert facts["n"] == arithmetic["n"] == 3  # the limit, per task
    assert set(facts["metrics"]) == FACTS and set(arithmetic["metrics"]) == {"exact_match (first-number)"}
    for metric in (*facts["metrics"].values(), *arithmetic["metrics"].values()):
        assert {"base", "base_stderr", "adapter", "adapter_stderr", "difference", "higher_is_better"} == set(metric)
    acc, brier = facts["metrics"]["acc"], facts["metrics"]["brier_score"]
    assert acc["base_stderr"] is not None and acc["adapter_stderr"] is not None
    # The adapter changed the weights, so the harness's probabilities of the choices moved.
    assert brier["base"] != brier["adapter"] and not brier["higher_is_better"]
    assert brier["difference"] == pytest.approx(brier["adapter"] - brier["base"])
    # 3 questions x 4 choices scored by log-likelihood, then 3 generations, per model.
    ends = {p.model: p for p in seen if p.model}
    assert ends["base"].total == ends["adapter"].total == 15 and ends["adapter"].done == 15
    assert seen[-1].fraction == 1.0 and any(p.eta_s for p in seen[1:-1])
    saved = json.loads((tiny_sft_run.path / "benchmarks.json").read_text())
    assert saved["harness"] == "lm-eval 0.4.13" and saved["tasks"] == json.loads(json.dumps(result["tasks"]))


def test_stop_ends_it_after_the_batch_under_way_and_keeps_the_base_scores(engine, tiny_sft_run, tmp_path):
    run = open_run(shutil.copytree(tiny_sft_run.path, tmp_path / tiny_sft_run.id))
    (run.path / "benchmarks.json").unlink(missing_ok=True)
    stop, seen = threading.Event(), []

    def progress(p):
        seen.append(p)
        if p.model == "adapter":
            stop.set()

    options = BenchOptions(tasks=["studio_facts"], limit=0, batch_size=2)
    result = run_benchmarks(engine, run, options, progress=progress, stop=stop)
    assert result["status"] == "stopped"
    assert result["stopped_at"] == "stopped on the adapter, 1 of 96 log-likelihood requests answered"
    entry = json.loads((run.path / "benchmarks.json").read_text())["tasks"]["studio_facts"]
    assert entry["n"] == 24 and entry["complete"] is False
    assert entry["metrics"]["acc"]["base"] is not None and entry["metrics"]["acc"]["adapter"] is None


def test_the_service_runs_one_benchmark_in_the_background(tiny_sft_run):
    from studio.services import Studio

    service = Studio(tiny_sft_run.path.parent)
    service.start_benchmarks(tiny_sft_run.id, BenchOptions(tasks=["studio_arithmetic"], limit=2))
    with pytest.raises(ValueError, match="is running"):
        service.start_benchmarks(tiny_sft_run.id, BenchOptions(tasks=["studio_facts"], limit=2))
    snap = service.bench_job.wait(120)
    assert snap.status == "completed", snap.error
    assert snap.result["tasks"]["studio_arithmetic"]["n"] == 2
    assert "studio_arithmetic" in service.bench_results(tiny_sft_run.id)["tasks"]
    assert "studio_arithmetic exact_match (first-number)" in service.bench_summary(tiny_sft_run.id)
    assert not service.stop_benchmarks()  # nothing running
    assert "studio_arithmetic" in service.run_view(tiny_sft_run.id)["summary"]["benchmarks"]  # the Runs tab


def test_the_cli_lists_the_tasks_offline_first_without_a_run(capsys):
    import logging

    from studio.cli import main

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:  # main() adds its console handler to the root logger: put the test session's back
        assert main(["eval", "--bench", "list"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert main(["eval"]) == 2 and "give --run RUN_DIR" in capsys.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    first = [line.split()[:2] for line in lines[:3]]
    assert first == [["studio_arithmetic", "offline"], ["studio_facts", "offline"], ["mmlu", "hub"]]


@pytest.mark.cli
def test_the_cli_prints_base_and_adapter_with_their_errors_as_json(tiny_sft_run):
    args = ["eval", "--run", tiny_sft_run.id, "--runs-dir", str(tiny_sft_run.path.parent), "--json"]
    result = studio(*args, "--bench", "studio_facts", "--limit", "2")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["tasks"]["studio_facts"]["n"] == 2
    for label in ("base", "adapter"):
        scores = data[label]["studio_facts"]
        assert set(scores) == FACTS | {f"{m}_stderr" for m in FACTS}
        assert 0 <= scores["acc"] <= 1 and scores["acc_stderr"] >= 0
    assert data["base"]["studio_facts"]["brier_score"] != data["adapter"]["studio_facts"]["brier_score"]
    assert "100%" in result.stderr  # progress lines go to stderr


@pytest.mark.heavy  # the embedded model on all 48 offline questions: ~1 min on two loaded cores
def test_the_embedded_model_beats_chance_on_the_offline_tasks(embedded_dir):
    from lm_eval import simple_evaluate

    from studio.evaluate.bench_model import RequestWatch, StudioLM
    from studio.evaluate.bench_results import task_scores

    engine = ChatEngine(str(embedded_dir))
    manager, specs = bench_tasks.resolve(["studio_facts", "studio_arithmetic"])
    lm = StudioLM(engine.ensure_base(), engine.tokenizer, RequestWatch())
    out = simple_evaluate(lm, tasks=specs, task_manager=manager, bootstrap_iters=0, log_samples=False)
    scores = task_scores(out, ["studio_facts", "studio_arithmetic"])
    print({name: {m: v["value"] for m, v in s["metrics"].items()} for name, s in scores.items()})
    assert scores["studio_facts"]["n"] == 24 and scores["studio_facts"]["metrics"]["acc"]["value"] > 0.5  # chance: 0.25
    assert scores["studio_arithmetic"]["metrics"]["exact_match (first-number)"]["value"] > 0
