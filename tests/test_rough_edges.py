"""Issue 33's smaller rough edges, the ones a function answers (the browser shows the rest:
tests/test_rough_browser.py): the max length to set, the curves' panels and legends, the shipped
presets' own review, the Runs summary as a table."""

import pytest

from studio.data.stats import LengthStats
from studio.runs.curves import training_figure
from studio.train.checks import validate
from studio.train.presets import PRESETS, preset
from studio.ui.runs_tab import summary_text


def test_cut_rows_come_with_the_max_length_that_keeps_them():
    most_cut = LengthStats([100] * 97 + [300, 700, 1000] + [600] * 200, 512, 300)
    text = most_cut.describe()
    assert "**202** of 300 exceed the max length 512" in text
    assert "Set the max length to **640** to keep 95% of the rows whole (1024 keeps every row" in text
    assert most_cut.to_json()["keeps_95_percent"] == 640 and most_cut.to_json()["keeps_all"] == 1024
    few_cut = LengthStats([100] * 297 + [300, 700, 1000], 512, 300)
    assert "Fewer than 5% are cut; a max length of **1024** keeps every row whole." in few_cut.describe()
    assert LengthStats([100] * 30, 512, 30).advice() == ""


STEPS = [{"step": i, "loss": 2.0 / i, "learning_rate": 1e-3, "grad_norm": 1.0, "tokens_per_s": 50.0} for i in (1, 2, 3)]


def test_sft_has_no_grpo_panel_and_grpo_has_one_small_legend_per_panel():
    sft = training_figure([dict(m, entropy=2.1, mean_token_accuracy=0.4) for m in STEPS])
    titles = [a.text for a in sft.layout.annotations]
    assert titles == ["Loss", "Learning rate", "Grad norm", "Tokens / s"]  # SFT's entropy is not GRPO's panel
    grpo_logs = {"reward": 0.5, "reward_std": 0.1, "kl": 0.0, "entropy": 2.0, "completions/mean_length": 8.0}
    grpo_logs |= {"completions/clipped_ratio": 0.2}
    grpo_logs |= {f"rewards/{f}/{s}": 0.1 for f in ("exact_answer", "format", "length") for s in ("mean", "std")}
    grpo = training_figure([dict(m, **grpo_logs) for m in STEPS])
    assert "Clipped share and entropy" in [a.text for a in grpo.layout.annotations]
    shown = [t for t in grpo.data if t.showlegend is not False]
    legends = {t.legend for t in shown}
    assert None not in legends and len(legends) == 3  # mean rewards, their spread, clipped share + entropy
    for legend in legends:  # each sits in its own panel's corner and lists that panel's curves only
        names = [t.name for t in shown if t.legend == legend]
        assert 2 <= len(names) <= 4 and grpo.layout[legend].xanchor == "right"
    assert len({(grpo.layout[k].x, grpo.layout[k].y) for k in legends}) == 3
    single = [t.name for t in grpo.data if t.showlegend is False]  # its panel's title names it
    assert {"train loss", "learning rate", "KL", "mean length"} <= set(single)


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_shipped_preset_passes_its_own_checks(name):
    device = "cuda" if "GPU" in name else "cpu"  # the 8B recipe's paged optimizer needs one
    assert [str(p) for p in validate(preset(name), device)] == []


def test_the_runs_summary_is_a_table_not_json():
    summary = {
        "run": "r1", "status": "completed", "method": "sft", "adapter": "lora", "model": "m", "step": 8,
        "total_steps": 8, "last_loss": 1.25, "best_eval_loss": None, "peak_memory_gib": 0.5,
        "estimated_memory_gib": 0.7, "seconds_per_step": 0.3, "checkpoint": "checkpoint-8", "error": "a|b",
        "train_seconds": 75.0, "tokens": 12345, "owner": "alice", "shared": True, "eval_perplexity": None,
        "segments": [
            {"segment": 1, "began": "start", "ended": "stopped", "steps": "0-4", "train_seconds": 30, "device": "cpu"},
            {"segment": 2, "began": "resume", "ended": "completed", "steps": "4-8", "train_seconds": 45, "device": "cpu"},
        ],
    }  # fmt: skip
    text = summary_text(summary)
    for row in (
        "| step | 8 of 8 (saved: checkpoint-8) |",
        "| training | SFT · lora · `m` |",
        "| memory | peak 0.5 GiB, estimate 0.7 GiB |",
        "| training time | 1m15s in 2 segments |",
        "| tokens trained | 12,345 |",
        "| error | a\\|b |",
        "| owner | alice (shared read-only) |",
        "| 2 | resume | completed | 4-8 | 0m45s | cpu |",
    ):
        assert row in text
    assert "best eval loss" not in text and "{" not in text  # empty fields left out; no JSON
