"""Two signed-in people in two browsers (issue 13): each logs in, sees only their own runs, and the
one whose Start waits sees their place in the queue; Bob's Stop takes his waiting Start out of the
line and leaves Alice's training running. Screenshots go to $STUDIO_SCREENSHOTS.
"""

import os
import re
from pathlib import Path

import pytest

from .apphost import running_app
from .test_browser import CHROMIUM, FLAGS
from .test_people_e2e import form, listed, wait_for

pytestmark = pytest.mark.browser


def signed_in(browser, url: str, user: str, password: str):
    """A page of its own (own cookies) past Gradio's login form."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.get_by_role("tab", name="Train").wait_for(timeout=60000)
    return page


# heavy: over 45 s on two cores; test_people_e2e drives the same two people through gradio_client in CI (CI's time, issue 30)
@pytest.mark.heavy
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_two_people_each_see_their_own_runs_and_the_queue(tiny_model_dir, tmp_path, monkeypatch):
    from gradio_client import Client
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("STUDIO_AUTH", "alice:alice-pw,bob:bob-pw")
    monkeypatch.delenv("STUDIO_QUEUE_PER_PERSON", raising=False)
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url, sync_playwright() as pw:
        alice_api = Client(url, verbose=False, auth=("alice", "alice-pw"))
        bob_api = Client(url, verbose=False, auth=("bob", "bob-pw"))
        alice_api.predict(*form(alice_api, tiny_model_dir, max_steps=5000), api_name="/start_training")
        wait_for(alice_api, "<b>running</b>")
        bob_api.predict(*form(bob_api, tiny_model_dir, max_steps=2), api_name="/start_training")
        (alices,), (bobs,) = listed(alice_api), listed(bob_api)

        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        alice = signed_in(browser, url, "alice", "alice-pw")
        bob = signed_in(browser, url, "bob", "bob-pw")
        for page in (alice, bob):
            page.get_by_role("tab", name="Train").click()
        expect(alice.locator("#train-status")).to_contain_text("running", timeout=30000)
        expect(bob.locator("#train-status")).to_contain_text("queued: 1st in line", timeout=30000)
        expect(alice.get_by_role("button", name="Start training")).to_be_disabled(timeout=30000)  # hers trains
        expect(bob.get_by_role("button", name="Start training")).to_be_enabled()  # Alice's run is not his
        bob.screenshot(path=str(shots / "people_bob_queued.png"), full_page=True)
        for page, mine, theirs in ((alice, alices, bobs), (bob, bobs, alices)):
            page.get_by_role("tab", name="Runs").click()
            table = page.locator("table").filter(has_text=re.compile("status"))
            expect(table.first).to_contain_text(mine, timeout=30000)
            assert theirs not in page.locator("body").inner_text()
        alice.screenshot(path=str(shots / "people_alice_runs.png"), full_page=True)

        bob.get_by_role("tab", name="Train").click()
        bob.get_by_role("button", name="Stop", exact=True).click()  # takes his waiting Start out of the line
        expect(bob.locator(".toast-body")).to_contain_text(f"Took {bobs} out of the queue", timeout=30000)
        assert listed(bob_api) == [] and "<b>running</b>" in wait_for(alice_api, "running")
        expect(alice.locator("#train-status")).to_contain_text("running")
        bob.screenshot(path=str(shots / "people_bob_cancelled.png"), full_page=True)
        alice_api.predict(api_name="/stop_training")
        wait_for(alice_api, "<b>stopped</b>")
        browser.close()
