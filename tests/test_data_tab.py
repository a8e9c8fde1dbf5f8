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
DEFAULT_CLEANING = ["drop", True, "", 0, 0, 0, 0, ["exact"], 0.8, None, "auto", 0.0, 42]


def test_failed_loads_keep_the_loaded_data(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CLEANED_DIR", str(tmp_path / "datasets"))
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
            EMBEDDED_MODEL, "drop", True, "", 9, 5, 0, 0, [], 0.8, None, "auto", 0.0, 42, api_name="/clean_data"
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


def test_generate_rows_and_pairs_from_the_data_tab(tmp_path, monkeypatch):
    """The Data tab's generation section over loopback teacher and judge servers: rows, pairs, Use in Train."""
    import json

    from tests.openai_server import openai_server
    from tests.test_generate import SEEDS, judge_by_length, sampler_by_seed, teacher_responder

    monkeypatch.setenv("STUDIO_CLEANED_DIR", str(tmp_path / "datasets"))
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(r) + "\n" for r in SEEDS))
    with gr.Blocks() as demo:
        data_tab.build(Studio(tmp_path / "runs"))
    port = free_port()
    demo.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with openai_server(teacher_responder()) as teacher, openai_server(sampler_by_seed) as sampler:
            with openai_server(judge_by_length) as judge:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                client.predict(str(seeds), "auto", "", "", EMBEDDED_MODEL, 64, api_name="/load_data")
                # n, seeds shown, answer tokens, temperature, random seed, dedup
                report, table, *_ = client.predict(teacher.url, 6, 3, 64, 0.8, 0, ["exact", "near"],
                                                   api_name="/generate_rows")  # fmt: skip
                assert "Kept 3 of 6 generated rows" in report and "1 replies were not an instruction" in report
                assert len(table["data"]) == 3 and table["data"][0][2].startswith(teacher.url)
                # k, answer tokens, temperature, min margin, limit, random seed
                report, _, pairs, *_ = client.predict(sampler.url, judge.url, "", 4, 32, 0.9, 1.0, 50, 0,
                                                      api_name="/preference_pairs")  # fmt: skip
                assert "3 pairs from 3 prompts" in report and len(pairs["data"]) == 3
                refused, *_ = client.predict(sampler.url, judge.url, "some-run", 4, 32, 0.9, 1.0, 50, 0,
                                             api_name="/preference_pairs")  # fmt: skip
                assert "one of them" in refused
    finally:
        demo.close()
