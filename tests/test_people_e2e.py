"""Two people on one studio, through app.py's named endpoints with two logins (STUDIO_AUTH="a:pw,b:pw").

Alice trains; Bob's Start waits in the queue and says so; each lists only their own runs; Bob can
neither delete Alice's run nor queue a second Start, and his Stop cancels his own waiting Start, not
her training; when Alice stops, Bob's run starts by itself; a run Alice shares shows in Bob's list,
read-only, and so are its files in the Data tab.
"""

import time

import pytest

from .apphost import running_app
from .conftest import ROOT

pytestmark = pytest.mark.e2e
REFUSED = "no file the studio reads here: it does not exist"  # studio.data.access, in a card (HTML-escaped)


def form(client, tiny_model_dir, **changes) -> list:
    from studio.ui.train_tab import field_order

    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/start_training"]["parameters"]
    values = dict(zip(field_order(), [p["parameter_default"] for p in params], strict=True))
    values.update(
        model=str(tiny_model_dir),
        precision="fp32",
        max_rows=24,
        max_length=128,
        save_steps=0,
        dataset=str(ROOT / "assets" / "sample_sft.jsonl"),
        **changes,
    )
    return list(values.values())


def statuses(client) -> dict[str, str]:
    """The Runs tab's listing as this person sees it: run id -> status."""
    table, *_ = client.predict(None, api_name="/list_runs")
    return {row[0]: row[1] for row in table["data"]}


def listed(client) -> list[str]:
    return list(statuses(client))


def load_status(client, source: str, model) -> str:
    """The Data tab's status line after Load and preview of ``source``."""
    *_, status = client.predict(source, "auto", "", "", str(model), 64, api_name="/load_data")
    return status


def wait_for(client, words: str, timeout: float = 180) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, *_ = client.predict(api_name="/progress")
        if words in status:
            return status
        time.sleep(0.5)
    raise AssertionError(f"never saw {words!r}; last status: {status}")


def test_two_people_share_one_studio(tiny_model_dir, tmp_path, monkeypatch):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    monkeypatch.setenv("STUDIO_AUTH", "alice:alice-pw,bob:bob-pw")
    monkeypatch.delenv("STUDIO_QUEUE_PER_PERSON", raising=False)
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url:
        alice = Client(url, verbose=False, auth=("alice", "alice-pw"))
        bob = Client(url, verbose=False, auth=("bob", "bob-pw"))

        alice.predict(*form(alice, tiny_model_dir, max_steps=500), api_name="/start_training")
        wait_for(alice, "<b>running</b>")
        (alices,) = listed(alice)

        *_, message = bob.predict(*form(bob, tiny_model_dir, max_steps=2), api_name="/start_training")
        assert "queued: 1st in line" in message
        (bobs,) = listed(bob)
        assert "queued: 1st in line" in wait_for(bob, "queued")
        assert bobs != alices and listed(alice) == [alices]  # each their own

        *_, refused = bob.predict(*form(bob, tiny_model_dir, max_steps=2), api_name="/start_training")
        assert "allows 1 per person" in refused
        with pytest.raises(AppError, match="not in the list of choices"):  # not in his list, so not his to pick
            bob.predict(alices, True, api_name="/delete_run")
        bob.predict(api_name="/stop_training")  # Stop takes his waiting Start out of the line...
        assert listed(bob) == [] and "<b>running</b>" in wait_for(alice, "running")  # ...and leaves Alice's
        *_, message = bob.predict(*form(bob, tiny_model_dir, max_steps=2), api_name="/start_training")
        assert "queued: 1st in line" in message
        (bobs,) = listed(bob)

        alice.predict(api_name="/stop_training")
        wait_for(bob, "<b>completed</b>")  # Bob's run started by itself when Alice's ended
        assert statuses(alice) == {alices: "stopped"}

        metrics = str(runs / alices / "metrics.jsonl")  # the Data tab reads a run's files as the Runs tab shows runs
        refused = load_status(bob, metrics, tiny_model_dir)
        assert REFUSED in refused and "loss" not in refused.replace(metrics, "")
        assert refused.replace(metrics, "<path>") == load_status(
            bob, str(runs / "nothing.jsonl"), tiny_model_dir
        ).replace(str(runs / "nothing.jsonl"), "<path>")
        assert REFUSED not in load_status(alice, metrics, tiny_model_dir)

        message, _ = alice.predict(alices, True, api_name="/share_run")
        assert "shared read-only" in message
        assert REFUSED not in load_status(bob, metrics, tiny_model_dir)
        assert statuses(bob) == {alices: "stopped (shared by alice)", bobs: "completed"}
        message, _ = bob.predict(alices, True, api_name="/delete_run")
        assert "shared read-only by alice" in message and (runs / alices).is_dir()
