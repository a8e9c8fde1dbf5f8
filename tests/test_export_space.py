"""Space readiness: who may open the app, and a visitor's training does not block another's chat."""

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from studio.chat.engine import ChatEngine, Sampling
from studio.services import Studio
from studio.ui.space import access, exposed, is_loopback

from .apphost import running_app


@pytest.mark.parametrize(
    ("host", "share", "space", "wanted"),
    [
        ("127.0.0.1", False, False, False),
        ("localhost", False, False, False),
        ("::1", False, False, False),
        ("0.0.0.0", False, False, True),
        ("192.168.1.20", False, False, True),
        ("127.0.0.1", True, False, True),  # a share link
        ("127.0.0.1", False, True, True),  # a Space is public whatever the bind address
    ],
)
def test_a_login_is_asked_exactly_when_others_can_reach_the_app(host, share, space, wanted, monkeypatch):
    monkeypatch.delenv("STUDIO_AUTH", raising=False)
    if space:
        monkeypatch.setenv("SPACE_ID", "alice/studio")
    else:
        monkeypatch.delenv("SPACE_ID", raising=False)
    granted = access(host, share)
    assert (granted.credentials is not None) == wanted == exposed(host, share)
    if wanted:
        assert granted.generated and len(granted.credentials[1]) >= 16
    assert access(host, share, no_auth=True).credentials is None  # the explicit opt-out


def test_login_from_flag_or_environment(monkeypatch):
    monkeypatch.setenv("STUDIO_AUTH", "me:env-password")
    assert access("0.0.0.0", False).credentials == ("me", "env-password")
    assert access("0.0.0.0", False, auth="you:flag-pw").credentials == ("you", "flag-pw")
    monkeypatch.setenv("STUDIO_AUTH", "off")
    assert access("0.0.0.0", False).credentials is None
    with pytest.raises(ValueError, match="auth: give the login as USER:PASSWORD"):
        access("0.0.0.0", False, auth="no-colon")
    assert is_loopback("127.0.0.2") and not is_loopback("studio.example.org")


def _status(url: str, data: dict | None = None) -> int:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.e2e
def test_app_on_all_interfaces_asks_for_the_generated_login(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.delenv("STUDIO_AUTH", raising=False)
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url:
        printed = (tmp_path / "app.log").read_text()
        user, password = re.search(r"log in as (\S+) / (\S+)", printed).groups()
        api = url.replace("0.0.0.0", "127.0.0.1")
        assert _status(f"{api}gradio_api/login_check") == 401
        assert _status(f"{api}login", {"username": user, "password": "wrong"}) >= 400
        assert _status(f"{api}login", {"username": user, "password": password}) == 200


def test_chat_answers_while_a_training_runs(tiny_config, tiny_model_dir, tmp_path):
    studio = Studio(tmp_path / "runs")
    studio.chat = ChatEngine(str(tiny_model_dir), dtype="fp32")
    tiny_config.train.max_steps = 200
    studio.start_training(tiny_config)
    try:
        for _ in range(600):
            if studio.progress().step >= 1:
                break
            studio.jobs.wait(0.2)
        assert studio.progress().active, studio.progress().error
        replies = list(
            studio.chat_stream([{"role": "user", "content": "Hi"}], [None], Sampling(greedy=True, max_new_tokens=6))
        )
        assert replies and studio.progress().active  # answered while the training went on
    finally:
        studio.stop_training()
        assert studio.jobs.wait(120).status == "stopped"
