"""`python -m studio bench --quick --json` keeps working: the report's shape and sanity, never speed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RL_METHODS = ("reward", "orpo", "kto", "grpo")
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def report():
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "bench", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)  # stdout holds the report alone: any stray print breaks this


def _positive(value):
    assert isinstance(value, int | float) and value > 0, value


def test_every_section_reports_without_error(report):
    for section in (
        "ceiling",
        "sft",
        "dpo",
        *RL_METHODS,
        "tokens",
        "startup",
        "chat",
        "responsiveness",
        "memory",
        "data",
    ):
        assert section in report, section
        assert "error" not in report[section], report[section]
    assert report["quick"] is True


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_throughput_ratios_come_from_the_measured_figures(report, method):
    figures = report[method]
    for key in ("tokens_per_s", "trained_tokens_per_s", "ratio_vs_floor", "ratio_vs_plain_trl"):
        _positive(figures[key])
    assert figures["tokens_per_s"] == figures["studio"]["tokens_per_s"]
    assert figures["trained_tokens_per_s"] <= figures["tokens_per_s"]
    assert figures["ratio_vs_floor"] == pytest.approx(
        figures["studio"]["tokens_per_s"] / figures["floor"]["tokens_per_s"], abs=1e-3
    )
    assert figures["ratio_vs_plain_trl"] == pytest.approx(
        figures["studio"]["tokens_per_s"] / figures["plain_trl"]["tokens_per_s"], abs=1e-3
    )


@pytest.mark.parametrize("method", RL_METHODS)
def test_new_methods_report_step_time_and_throughput(report, method):
    figures = report[method]
    assert figures["steps"] == 1 and figures["precision"] == report["sft"]["precision"]
    for key in ("seconds_per_step", "tokens_per_s", "train_seconds"):
        _positive(figures[key])
    assert figures["train_seconds"] >= figures["seconds_per_step"]
    if method == "grpo":  # 4 prompts a step, each sampled group_size times
        assert (figures["group_size"], figures["max_completion_length"]) == (4, 8)  # --quick: 8, not 32
        assert figures["prompts_per_s"] == pytest.approx(4 / figures["seconds_per_step"], rel=0.01)
        assert figures["completions_per_s"] == pytest.approx(4 * figures["prompts_per_s"], rel=0.01)
        # each of the 16 answers has its prompt and at least one sampled token
        assert figures["tokens_per_s"] * figures["seconds_per_step"] > 16 * 10
    else:
        assert figures["samples_per_s"] == pytest.approx(4 / figures["seconds_per_step"], rel=0.01)
        # 4 examples (KTO: each with its KL sequence) of at least a chat template's length
        assert figures["tokens_per_s"] * figures["seconds_per_step"] > 4 * 20


def test_useful_token_share_is_a_share_and_padding_wastes_more(report):
    studio, padded = report["tokens"]["useful_token_share"], report["tokens"]["useful_token_share_padded"]
    assert 0 < padded <= studio <= 1


def test_startup_chat_responsiveness_and_data_figures_are_positive(report):
    for key in ("app_start_s", "model_load_s"):  # the first conversion: tests/test_models.py
        _positive(report["startup"][key])
    for key in ("base_ttft_s", "adapter_ttft_s", "base_decode_tokens_per_s", "adapter_decode_tokens_per_s"):
        _positive(report["chat"][key])
    for column in ("base", "adapter"):  # a follow-up question, its first turn kept and computed again
        _positive(report["chat"][f"{column}_next_turn_ttft_s"])
        _positive(report["chat"][f"{column}_next_turn_ttft_uncached_s"])
    assert report["chat"]["next_turn_prompt_tokens"] > report["chat"]["prompt_tokens"]
    latency = report["responsiveness"]
    _positive(latency["preview_p95_s"])
    assert latency["preview_median_s"] <= latency["preview_p95_s"]
    data = report["data"]
    _positive(data["rows_per_s"])
    assert data["rows_per_s"] == pytest.approx(data["rows"] / data["seconds"], rel=0.1)
    assert data["exact_removed"] >= data["planted_exact"] > 0


def test_memory_has_lora_beside_its_estimate(report):
    assert set(report["memory"]) - {"section_seconds"} == {"lora"}  # --quick: QLoRA and full in the full run
    for method in ("lora",):
        m = report["memory"][method]
        _positive(m["estimated_bytes"])
        _positive(m["measured_bytes"])
        assert m["estimate_over_measured"] == pytest.approx(m["estimated_bytes"] / m["measured_bytes"], abs=1e-3)


def _beside(report: dict, section: str) -> dict:
    """The section's own ceiling: the mean of the ones measured just before and after it."""
    own = report[section]["ceiling_beside"]
    for key in ("matmul_gflops", "read_bandwidth_gb_s"):
        before, after = own[f"{key}_before_after"]
        _positive(before)
        _positive(after)
        assert own[key] == pytest.approx((before + after) / 2, abs=0.01)
    return own


def test_the_ceilings_are_measured_and_each_training_figure_is_its_fraction(report):
    ceiling = report["ceiling"]
    for key in ("matmul_gflops", "read_bandwidth_gb_s", "matmul_params"):
        _positive(ceiling[key])
    assert ceiling["precision"] == report["sft"]["precision"]
    # sft's "before" is the run's start ceiling; each next section's is the last one's "after"
    assert report["sft"]["ceiling_beside"]["matmul_gflops_before_after"][0] == ceiling["matmul_gflops"]
    assert (
        report["dpo"]["ceiling_beside"]["matmul_gflops_before_after"][0]
        == report["sft"]["ceiling_beside"]["matmul_gflops_before_after"][1]
    )
    for method, passes in (("sft", 2), ("dpo", 3)):  # LoRA: forward + backward; DPO adds the reference
        own = _beside(report, method)
        for row in ("studio", "floor", "plain_trl"):
            figures = report[method][row]
            limit = own["matmul_gflops"] * 1e9 / (passes * 2 * ceiling["matmul_params"])
            assert figures["ceiling_tokens_per_s"] == pytest.approx(limit, rel=1e-3, abs=0.1)
            assert figures["fraction_of_ceiling"] == pytest.approx(figures["tokens_per_s"] / limit, rel=1e-2)
        start = ceiling["matmul_gflops"] * 1e9 / (passes * 2 * ceiling["matmul_params"])
        rate = report[method]["studio"]["tokens_per_s"]
        assert report[method]["fraction_of_start_ceiling"] == pytest.approx(rate / start, rel=1e-2)
    reward = report["reward"]  # a score head, not the vocabulary head
    assert reward["ceiling_tokens_per_s"] > report["orpo"]["ceiling_tokens_per_s"]
    chat = report["chat"]
    width = {"float32": 4, "float16": 2, "bfloat16": 2}[chat["weights_dtype"]]
    decode_limit = _beside(report, "chat")["read_bandwidth_gb_s"] * 1e9 / (ceiling["matmul_params"] * width)
    assert chat["base_decode_ceiling_tokens_per_s"] == pytest.approx(decode_limit, rel=1e-3, abs=0.1)
    assert chat["base_decode_fraction_of_ceiling"] == pytest.approx(
        chat["base_decode_tokens_per_s"] / decode_limit, rel=1e-2
    )
    start = ceiling["read_bandwidth_gb_s"] * 1e9 / (ceiling["matmul_params"] * width)
    assert chat["base_decode_fraction_of_start_ceiling"] == pytest.approx(
        chat["base_decode_tokens_per_s"] / start, rel=1e-2
    )


def test_the_markdown_says_how_to_reproduce_its_own_run():
    from studio.bench.report import markdown

    machine = {"device": "cpu", "python": "3.11"}
    full = {"quick": False, "machine": machine, "sft": {"studio": {}, "plain_trl": {}}}
    assert "`.venv/bin/python -m studio bench --write BENCHMARKS.md`" in markdown(full)
    without_plain = {"quick": False, "machine": machine, "sft": {"studio": {}}, "dpo": {"studio": {}}}
    assert "bench --no-plain --write" in markdown(without_plain)
    assert "bench --quick --write" in markdown({"quick": True, "machine": machine})
