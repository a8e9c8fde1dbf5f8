"""app.py end to end through gradio_client: load data -> train a few steps -> chat base vs adapter."""

import time

import pytest

from studio.chat.engine import ChatEngine, Sampling

from .apphost import running_app
from .conftest import ROOT

pytestmark = pytest.mark.e2e


def test_load_train_chat(tiny_model_dir, tmp_path):
    from gradio_client import Client

    from studio.ui.train_tab import field_order

    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url:
        client = Client(url, verbose=False)
        summary, *_ = client.predict(
            str(ROOT / "assets" / "sample_sft.jsonl"), "auto", "", "", str(tiny_model_dir), 256, api_name="/load_data"
        )
        assert "223 rows" in summary and "alpaca" in summary

        params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/start_training"][
            "parameters"
        ]
        values = dict(zip(field_order(), [p["parameter_default"] for p in params], strict=True))
        values.update(
            model=str(tiny_model_dir),
            precision="fp32",
            max_steps=3,
            max_rows=24,
            max_length=128,
            learning_rate=0.05,
            save_steps=0,
        )
        status, *_ = client.predict(*values.values(), api_name="/start_training")
        assert "step" in status

        deadline = time.time() + 120
        while time.time() < deadline:
            status, *_ = client.predict(api_name="/progress")
            if "completed" in status or "failed" in status:
                break
            time.sleep(0.5)
        assert "<b>completed</b>" in status and "step 3/3" in status

        refreshed = client.predict("(none: base only)", api_name="/refresh_adapters")
        run_dir = next(runs.iterdir())
        adapter = str(run_dir / "adapter")
        assert refreshed["value"] == adapter  # the newest adapter is picked

        sampling = Sampling(seed=11, max_new_tokens=12, temperature=1.0)
        base_reply, adapter_reply = client.predict(
            "Who are you?",
            adapter,
            "",
            sampling.temperature,
            sampling.top_k,
            sampling.top_p,
            sampling.repetition_penalty,
            sampling.max_new_tokens,
            sampling.seed,
            sampling.greedy,
            api_name="/chat",
        )
    engine = ChatEngine(str(tiny_model_dir))
    messages = [{"role": "user", "content": "Who are you?"}]
    assert base_reply == engine.reply(messages, None, sampling)
    assert adapter_reply == engine.reply(messages, adapter, sampling)
    assert base_reply != adapter_reply
