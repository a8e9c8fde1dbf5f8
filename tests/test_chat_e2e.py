"""The Chat and Evaluate tabs end to end through gradio_client: compare, vote, chart, export, evaluate."""

import json
import shutil
from pathlib import Path

import pytest

from studio.chat.engine import ChatEngine, Sampling

from .apphost import running_app
from .hubserver import FakeHub
from .test_hub import SECRET

pytestmark = pytest.mark.e2e

QUESTION = "Who are you?"


def turn(role: str, text: str) -> dict:
    """A chat message as Gradio 6's API carries it: content is a list of parts."""
    return {"role": role, "content": [{"type": "text", "text": text}]}


# heavy: over 45 s on two cores; the chat, export and evaluation each have faster CI tests, and test_app_e2e is the journey CI keeps (CI's time, issue 30)
@pytest.mark.heavy
def test_chat_vote_chart_export_evaluate_compare(tiny_model_dir, tiny_sft_run, tmp_path, monkeypatch):
    from gradio_client import Client

    from studio.data import load_data

    runs = tmp_path / "runs"
    run_dir = runs / tiny_sft_run.id
    shutil.copytree(tiny_sft_run.path, run_dir)
    adapter = str(run_dir / "adapter")
    sampling = Sampling(seed=4, max_new_tokens=10, temperature=1.0)
    values = [sampling.temperature, sampling.top_k, sampling.top_p, sampling.repetition_penalty]
    values += [sampling.max_new_tokens, sampling.seed, sampling.greedy]
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")  # the loopback Hub the app pushes to speaks LFS, not Xet
    with FakeHub({SECRET: "alice"}) as hub, running_app(runs, env={"HF_ENDPOINT": hub.url}) as url:
        client = Client(url, verbose=False)
        assert client.predict("(none: base only)", api_name="/refresh_adapters")["value"] == adapter
        base_reply, adapter_reply = client.predict(QUESTION, adapter, "", *values, api_name="/chat")

        histories = [[turn("user", QUESTION), turn("assistant", reply)] for reply in (base_reply, adapter_reply)]
        voted, note = client.predict("base", adapter, "off", "", *histories, [], api_name="/vote_column_2")
        assert "Recorded 1 preference pair" in voted and note == ""
        # A refusal is a card in the tab's note; the arena line keeps what it said.
        kept, note = client.predict("base", adapter, "off", "", *histories, [], api_name="/vote_column_3")
        assert "Column 3 is off" in note and "studio-card-error" in note

        chart, note = client.predict(
            "base", adapter, "off", "", "", *histories, [], *values, api_name="/next_token_chart"
        )
        assert chart is not None and note == ""

        exported = client.predict("base", adapter, "off", "", *histories, [], *values, api_name="/export_chat")
        conversation = json.loads(open(exported).read())
        assert [c["source"] for c in conversation["columns"]] == ["base", adapter]
        assert conversation["columns"][1]["messages"][-1]["content"] == adapter_reply

        status, table, *_, note = client.predict(tiny_sft_run.id, "final", 6, 2, 6, 0, api_name="/evaluate")
        assert "6 validation rows" in status and note == ""
        assert table["data"][0][0].startswith("Perplexity")
        *_, note = client.predict(None, "final", 6, 2, 6, 0, api_name="/evaluate")
        assert "Run: pick one first" in note

        html, _, note = client.predict(
            tiny_sft_run.id, "final", "Name a colour.\nCount to three.", 1.0, 1.0, 6, 0, True, api_name="/batch_compare"
        )
        assert "Name a colour." in html and "Count to three." in html and note == ""
        *_, note = client.predict(tiny_sft_run.id, "final", "  ", 1.0, 1.0, 6, 0, True, api_name="/batch_compare")
        assert "studio-card-error" in note

        # The Export tab's GGUF: its Ollama Modelfile takes the Chat tab's sampling.
        chosen = [0.3, 20, 0.8, 1.1, 64, 5, False]
        assert client.predict(None, api_name="/export_runs")["value"] == tiny_sft_run.id  # what opening the tab does
        files, _, note = client.predict(tiny_sft_run.id, "q4_0", *chosen, api_name="/export_gguf")
        modelfile = next(Path(f["path"] if isinstance(f, dict) else f) for f in files if "Modelfile" in str(f))
        lines = modelfile.read_text().splitlines()
        for expected in ("temperature 0.3", "top_k 20", "top_p 0.8", "repeat_penalty 1.1", "num_predict 64"):
            assert f"PARAMETER {expected}" in lines
        assert note == ""
        # ... and that checked file goes to the Hub with its Modelfile and a card saying how to run it.
        form = ["fp32", "q4_0", True, False, False, True]  # dtype, gguf, private, merged, update, verify
        shown, _, note, token, _ = client.predict(
            tiny_sft_run.id, "tuned-GGUF", SECRET, *form, api_name="/push_gguf_to_hub"
        )
        assert "**Pushed** the gguf-q4_0 to" in shown and "Check passed" in shown and note == "" and token == ""
        pushed = hub.repos["alice/tuned-GGUF"].files
        assert (
            pushed[f"{tiny_sft_run.id}-q4_0.gguf"]
            == (run_dir / "export" / "gguf-q4_0" / f"{tiny_sft_run.id}-q4_0.gguf").read_bytes()
        )
        card = pushed["README.md"].decode()
        assert (
            f"llama-cli -m {tiny_sft_run.id}-q4_0.gguf -cnv" in card and "ollama create tuned-gguf -f Modelfile" in card
        )
        assert "library_name: gguf" in card and "Modelfile" in pushed
        form[1] = "none"  # no choice of the GGUF section (its first is q8_0): refused before anything is written
        with pytest.raises(Exception, match="not in the list of choices"):
            client.predict(tiny_sft_run.id, "other", SECRET, *form, api_name="/push_gguf_to_hub")

    engine = ChatEngine(str(tiny_model_dir))
    messages = [{"role": "user", "content": QUESTION}]
    assert [base_reply, adapter_reply] == engine.replies(messages, [None, adapter], sampling)
    pairs = load_data(str(runs / "arena" / "preferences.jsonl"))
    assert pairs.kind == "preference" and pairs.rows[0]["chosen"][0]["content"] == adapter_reply
    saved = json.loads((run_dir / "eval.json").read_text())
    assert saved["base"]["perplexity"] > 1 and saved["generated"] == 2
