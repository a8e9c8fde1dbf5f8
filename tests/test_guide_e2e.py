"""app.py through gradio_client (issue 33): a preset fills the form and the review of what runs.

GRPO preset, then SFT preset, through the named endpoints: the dataset is the SFT sample (the GRPO
file is another preset's), and the review the same event returns shows the plan that would run:
its batch, rows and steps equal those of studio.train.plan.plan_run on the config the form holds.
"""

import re

import pytest

from studio.config import RunConfig
from studio.train.plan import plan_run

from .apphost import running_app

pytestmark = pytest.mark.e2e

GRPO, SFT = "Quick CPU demo: GRPO arithmetic", "Quick CPU demo: LoRA SFT"


def _fill(client, names, preset, values):
    """apply_preset's outputs (the API leaves out the flagged-fields state and the buttons):
    message, review, command, batch, guide card, the form."""
    out = client.predict(preset, *values, api_name="/apply_preset")
    fields = [v["value"] if isinstance(v, dict) and "value" in v else v for v in out[5:]]
    return out[3], dict(zip(names, fields, strict=True))


def _planned(batch: str) -> tuple[int, int, int, int]:
    """(batch size, grad accum, training rows, steps) as the review's batch line states them."""
    size, accum = re.search(r"Effective batch (\d+) x (\d+)", batch).groups()
    rows = re.search(r"(\d+) training rows", batch).group(1)
    steps = re.search(r"\*\*(\d+) steps\*\*", batch).group(1)
    return int(size), int(accum), int(rows), int(steps)


def test_a_preset_fills_the_form_and_the_review_shows_the_plan_that_runs(tmp_path):
    from gradio_client import Client

    from studio.ui.train_tab import field_order

    runs = tmp_path / "runs"
    runs.mkdir()
    names = field_order()
    with running_app(runs) as url:
        client = Client(url, verbose=False)
        params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/apply_preset"]
        defaults = [p["parameter_default"] for p in params["parameters"][1:]]
        batch, form = _fill(client, names, GRPO, defaults)
        assert form["dataset"] == "assets/arithmetic_grpo.jsonl" and form["method"] == "grpo"
        assert _planned(batch)[:2] == (2, 1)
        batch, form = _fill(client, names, SFT, [form[n] for n in names])
        assert form["dataset"] == "assets/sample_sft.jsonl" and form["method"] == "sft"
        assert form["val_dataset"] == "" and form["batch_size"] == 4
        saved = client.predict(*[form[n] for n in names], api_name="/save_config")[0]
    config = RunConfig.load(saved)  # the form read back as Start reads it
    plan = plan_run(config)
    assert _planned(batch) == (
        config.train.batch_size,
        config.train.grad_accum,
        len(plan.train.examples),
        plan.total_steps,
    )
    assert (config.train.batch_size, plan.total_steps) == (4, 40)
