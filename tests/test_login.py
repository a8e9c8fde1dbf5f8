"""Wrong logins limited per client address and per user name (studio.ui.login), with an injected
clock; the page a throttled person sees, in Chromium. The same over HTTP: tests/test_safety.py.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from fastapi import HTTPException

from studio.ui.login import CLIENT, LoginLimiter, Throttled, client_address, login_check

from .apphost import running_app
from .test_browser import CHROMIUM, FLAGS

PEOPLE = [("alice", "pw-a"), ("bob", "pw-b")]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def guess(limiter, user: str, address: str, times: int) -> None:
    for i in range(times):
        assert limiter.check(user, f"guess-{i}", address) is False


def test_one_clients_guesses_hold_that_client_only(clock):
    limiter = LoginLimiter(PEOPLE, clock=clock)
    guess(limiter, "bob", "10.0.0.1", 5)
    clock.now += 15
    for user, password in PEOPLE:  # the guessing client: refused unchecked, saying why and how long
        with pytest.raises(Throttled, match="Too many attempts from your address: wait 45 s"):
            limiter.check(user, password, "10.0.0.1")
    assert limiter.check("alice", "pw-a", "10.0.0.2") and limiter.check("bob", "pw-b", "10.0.0.2")
    clock.now += 45  # the first wrong try leaves the window
    assert limiter.check("alice", "pw-a", "10.0.0.1")


def test_one_client_alone_never_slows_a_name_down(clock):
    limiter = LoginLimiter(PEOPLE, clock=clock)
    for _ in range(20):  # 100 wrong tries at bob, 5 a minute, all this client may make
        guess(limiter, "bob", "10.0.0.1", 5)
        with pytest.raises(Throttled, match="from your address"):
            limiter.check("bob", "guess", "10.0.0.1")
        clock.now += 60
    assert limiter.check("bob", "pw-b", "10.0.0.2")


def test_guesses_at_a_name_from_many_clients_back_off_bounded(clock):
    limiter = LoginLimiter(PEOPLE, clock=clock)
    guess(limiter, "bob", "10.0.0.1", 5)
    guess(limiter, "bob", "10.0.0.2", 5)  # 10 wrong tries at bob: his name waits from now on
    waits = []
    for i in range(8):
        with pytest.raises(Throttled, match="Too many attempts for this user") as refused:
            limiter.check("bob", "pw-b", "10.0.0.9")  # refused unchecked, the right password too
        waits.append(refused.value.wait)
        clock.now += refused.value.wait
        guess(limiter, "bob", f"10.0.1.{i}", 1)  # one more wrong try, from yet another client
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]  # doubling, capped at a minute
    assert limiter.check("alice", "pw-a", "10.0.0.9")  # another name is not slowed
    clock.now += 60
    assert limiter.check("bob", "pw-b", "10.0.0.9")  # never locked out for good


def test_where_a_person_logged_in_before_their_names_backoff_does_not_hold_them(clock):
    limiter = LoginLimiter(PEOPLE, clock=clock)
    assert limiter.check("bob", "pw-b", "192.0.2.7")  # bob at home
    guess(limiter, "bob", "10.0.0.1", 5)
    guess(limiter, "bob", "10.0.0.2", 5)
    with pytest.raises(Throttled, match="for this user"):
        limiter.check("bob", "pw-b", "10.9.9.9")
    assert limiter.check("bob", "pw-b", "192.0.2.7")


def test_a_name_forgets_its_wrong_tries(clock):
    limiter = LoginLimiter(PEOPLE, name_memory=900, clock=clock)
    guess(limiter, "bob", "10.0.0.1", 5)
    guess(limiter, "bob", "10.0.0.2", 5)
    clock.now += 901
    guess(limiter, "bob", "10.0.0.3", 1)  # one wrong try after a quiet quarter of an hour: no wait
    assert limiter.check("bob", "pw-b", "10.0.0.4")
    assert limiter.addresses.keys() == {"10.0.0.3"} and limiter.names.keys() == {"bob"}  # the rest dropped


def test_a_name_nobody_has_is_slowed_like_a_real_one(clock):
    """Else which names back off would tell which exist."""
    limiter = LoginLimiter(PEOPLE, clock=clock)
    for name, net in (("bob", "10.0.0"), ("nobody", "10.0.1")):
        guess(limiter, name, f"{net}.1", 5)
        guess(limiter, name, f"{net}.2", 5)
    for name in ("bob", "nobody"):
        with pytest.raises(Throttled, match="Too many attempts for this user: wait 1 s"):
            limiter.check(name, "pw-b", "10.0.9.9")


def test_the_auth_callable_answers_429_for_the_client_the_middleware_saw(clock):
    check = login_check(PEOPLE, delay=0, clock=clock)

    async def attempt(address: str, user: str, password: str):
        CLIENT.set(address)
        return await check(user, password)

    for i in range(5):
        assert asyncio.run(attempt("10.0.0.1", "bob", f"guess-{i}")) is False
    with pytest.raises(HTTPException) as refused:
        asyncio.run(attempt("10.0.0.1", "alice", "pw-a"))
    assert refused.value.status_code == 429 and refused.value.headers == {"Retry-After": "60"}
    assert refused.value.detail == "Too many attempts from your address: wait 60 s and try again."
    assert asyncio.run(attempt("10.0.0.2", "alice", "pw-a")) is True


# -- which address ----------------------------------------------------------------------------------


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"type": "http", "client": (peer, 51234), "headers": headers}


def test_the_address_is_the_peer_and_the_forwarded_header_counts_only_on_a_space(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert client_address(scope("10.1.2.3", "8.8.8.8")) == "10.1.2.3"  # anyone may send the header
    monkeypatch.setenv("SPACE_ID", "me/studio")
    # the Hub's proxy appends the client it saw; a client's own entries are to its left, private hops right
    assert client_address(scope("10.1.2.3", "1.1.1.1, 8.8.4.4, 10.0.0.2")) == "8.8.4.4"
    assert client_address(scope("10.1.2.3", "")) == client_address(scope("10.1.2.3")) == "10.1.2.3"
    assert client_address({"type": "http", "headers": []}) == "unknown"


def test_an_ipv6_client_counts_by_its_64(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    one, same, other = (client_address(scope(a)) for a in ("2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:3::1"))
    assert one == same == "2001:db8:1:2::/64" != other
    assert client_address(scope("::ffff:192.0.2.1")) == "192.0.2.1"


# -- the page ---------------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_the_login_page_says_a_try_was_throttled_and_for_how_long(tmp_path, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("STUDIO_AUTH", "alice:pw-a")
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 900, "height": 600})
        page.goto(url)
        wrong = page.locator("p.creds")
        for i in range(6):
            page.get_by_label("username").fill("alice")
            page.get_by_label("password").fill(f"guess-{i}")
            page.get_by_role("button", name="Login").click()
            if i < 5:  # Gradio's own answer to a wrong password
                expect(wrong).to_have_text("Incorrect Credentials", timeout=30000)
                page.wait_for_function("!document.querySelector('input[type=password]').value")
        note = page.get_by_role("alert")
        expect(note).to_have_text(re.compile(r"Too many attempts from your address: wait \d+ s and try again\."))
        expect(wrong).to_be_hidden()  # not "Incorrect credentials" beside it
        wait = int(re.search(r"wait (\d+) s", note.inner_text()).group(1))
        assert 1 <= wait <= 60  # how long: within the address's one-minute window
        page.screenshot(path=str(shots / "login_throttled.png"))
        browser.close()
