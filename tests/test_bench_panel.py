"""The Evaluate tab's Benchmarks section through gradio_client: Start, poll to the end, the table and chart."""

import time

import gradio as gr
import pytest
from gradio_client import Client

from studio.services import Studio
from studio.ui import evaluate_tab

from .conftest import free_port

pytestmark = pytest.mark.e2e


def test_start_polls_to_a_side_by_side_table(tiny_sft_run):
    with gr.Blocks() as demo:
        evaluate_tab.build(Studio(tiny_sft_run.path.parent))
    port = free_port()
    demo.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        *_, note = client.predict(None, "final", ["studio_facts"], 2, 8, False, api_name="/bench_start")
        assert "Run: pick one first" in note
        *_, note = client.predict(tiny_sft_run.id, "/etc", ["studio_facts"], 2, 8, False, api_name="/bench_start")
        assert "studio-card-error" in note and "/etc" in note  # an adapter outside the runs folder
        status, _, note = client.predict(
            tiny_sft_run.id, "final", ["studio_facts"], 2, 8, False, api_name="/bench_start"
        )
        assert note == "" and tiny_sft_run.id in status
        deadline = time.time() + 180
        while time.time() < deadline:
            status, table, chart, _ = client.predict(tiny_sft_run.id, api_name="/bench_poll")
            if "benchmark completed" in status:
                break
            time.sleep(0.5)
        assert "benchmark completed" in status and "benchmarks.json" in status
        assert table["headers"] == ["task", "metric", "n", "base ± se", "adapter ± se", "change", "better"]
        rows = {row[1].rsplit(" ", 1)[0]: row for row in table["data"] if row[0] == "studio_facts"}
        assert set(rows) == {"acc", "acc_norm", "brier_score"} and table["data"][0][1] == "acc ↑"
        assert rows["acc"][2] == 2 and " ± " in rows["acc"][3] and " ± " in rows["acc"][4]
        assert rows["brier_score"][5].startswith(("+", "-")) and rows["brier_score"][5] != "+0.0000"
        assert "base" in str(chart) and "adapter" in str(chart)
    finally:
        demo.close()
