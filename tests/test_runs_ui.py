"""The Train form's review and the Runs tab, driven through app.py's named endpoints."""

import time

import pytest

from .apphost import running_app
from .conftest import ROOT

pytestmark = pytest.mark.e2e


def form_values(client, **changes) -> list:
    from studio.ui.train_tab import field_order

    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/start_training"]["parameters"]
    values = dict(zip(field_order(), [p["parameter_default"] for p in params], strict=True))
    values.update(changes)
    return list(values.values())


def test_review_train_list_compare_delete(tiny_model_dir, tmp_path):
    from gradio_client import Client

    runs = tmp_path / "runs"
    runs.mkdir()
    tiny = dict(
        model=str(tiny_model_dir),
        precision="fp32",
        max_steps=3,
        max_rows=24,
        max_length=128,
        learning_rate=0.05,
        save_steps=1,
        dataset=str(ROOT / "assets" / "sample_sft.jsonl"),
    )
    with running_app(runs) as url:
        client = Client(url, verbose=False)
        html, command, batch, *outputs = client.predict(
            *form_values(client, **tiny, lora_r=0), api_name="/review_config"
        )
        from studio.ui.train_tab import field_order

        fields = outputs[-len(field_order()) :]  # after the method guide's card and buttons

        assert fields[field_order().index("lora_r")]["info"] == "Error: 0 is below the minimum 1"  # at the field
        assert "lora_r" in html and "below the minimum" in html
        html, command, batch, *fields = client.predict(
            *form_values(client, **tiny, lora_r=4), api_name="/review_config"
        )
        assert "No problems" in html and "Parameters" in html and "fits" in html
        assert "--lora-r 4" in command and "accelerate launch" in command
        assert "Effective batch 4 x 1" in batch

        client.predict(*form_values(client, **tiny), api_name="/start_training")
        deadline = time.time() + 180
        while time.time() < deadline:
            status, *_ = client.predict(api_name="/progress")
            if "completed" in status or "failed" in status:
                break
            time.sleep(0.5)
        assert "<b>completed</b>" in status and "peak memory" in status

        table, chosen, compared, note = client.predict(None, api_name="/list_runs")
        run_id = table["data"][0][0]
        assert table["data"][0][1] == "completed" and chosen["value"] == run_id
        _, summary, *_ = client.predict(run_id, api_name="/open_run")
        # A table a person reads, not the raw JSON.
        assert "| step | 3 of 3 (saved: checkpoint-3) |" in summary and "| status | completed |" in summary
        assert "{" not in summary and "| memory | peak " in summary
        figure, metric, differences, _ = client.predict([run_id], "loss", api_name="/compare_runs")
        # An update with the table's column widths (every compared run's column in view): the rows are its value.
        assert differences["value"]["data"] == [["pick two runs or more to list their differences"]]
        assert "learning_rate" in [c[0] for c in metric["choices"]]
        *_, message = client.predict([], "loss", api_name="/compare_runs")
        assert "pick at least one" in message and "studio-card-error" in message

        # Refusals are cards in the tab's message line (no error pills over the other components).
        assert "already completed" in client.predict(run_id, api_name="/resume_run")
        message, _ = client.predict(run_id, False, api_name="/delete_run")
        assert "Yes, delete it" in message and "studio-card-error" in message
        client.predict(run_id, True, api_name="/delete_run")
        assert not list(runs.iterdir())
