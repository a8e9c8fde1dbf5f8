"""The Data tab through gradio_client: a failed load names the problem and keeps the data already loaded."""

import gradio as gr
import pytest
from gradio_client import Client

from studio.config import EMBEDDED_MODEL
from studio.services import Studio
from studio.ui import data_tab

from .conftest import ROOT, free_port

pytestmark = pytest.mark.e2e

SAMPLE = str(ROOT / "assets" / "sample_sft.jsonl")
# special_tokens, drop_empty, exclude, min/max tokens, min/max chars, dedup, threshold, val share, seed
DEFAULT_CLEANING = ["drop", True, "", 0, 0, 0, 0, ["exact"], 0.8, 0.0, 42]


def test_failed_loads_keep_the_loaded_data(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "datasets"))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a"}\n{"text": oops}\n')
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"text": "a"}\n{"instruction": "b", "output": "c"}\n')
    with gr.Blocks() as demo:
        data_tab.build(Studio(tmp_path / "runs"))
    port = free_port()
    demo.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        summary, *_ = client.predict(SAMPLE, "auto", "", "", EMBEDDED_MODEL, 64, api_name="/load_data")
        assert "223 rows" in summary and "exceed the max length 64" in summary
        for source, message in (
            (str(tmp_path / "missing.jsonl"), "does not exist"),
            (str(broken), "line 2 is not valid JSON"),
            (str(mixed), "mixes formats"),
        ):
            # A card on the status line names the problem; the summary shown stays (skipped, not emptied).
            summary, *_, status = client.predict(source, "auto", "", "", EMBEDDED_MODEL, 64, api_name="/load_data")
            assert message in status and "studio-card-error" in status
            assert "223 rows" not in status
        *_, note = client.predict(
            EMBEDDED_MODEL, "drop", True, "", 9, 5, 0, 0, [], 0.8, 0.0, 42, api_name="/clean_data"
        )
        assert "min_tokens: 9 is above max_tokens 5" in note
        # Clean works on what was loaded last with success, not on the failed sources.
        report, *_ = client.predict(EMBEDDED_MODEL, *DEFAULT_CLEANING, api_name="/clean_data")
        assert "Kept 223 of 223 rows" in report
        source, fmt, columns, system, upload = client.predict(api_name="/use_cleaned")
        assert source.startswith(str(tmp_path / "datasets" / "sample_sft-clean-")) and fmt == "auto"
        assert upload is None  # the upload box no longer names the file the cleaned one replaced
    finally:
        demo.close()
