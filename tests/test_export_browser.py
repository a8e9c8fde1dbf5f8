"""The Export tab as a person uses it, in headless Chromium: zip, model card, push (loopback Hub).

The screenshot goes to $STUDIO_SCREENSHOTS (default: the test's tmp folder) to be looked at.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from .apphost import running_app
from .hubserver import FakeHub
from .test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser
SECRET = "hf_browserTESTsecret0123456789"


# heavy: over 45 s on two cores; the export tab's endpoints run in CI through gradio_client (CI's time, issue 30)
@pytest.mark.heavy
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_export_tab_zips_writes_the_card_and_pushes(tiny_sft_run, tmp_path, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    shutil.copytree(tiny_sft_run.path, runs / tiny_sft_run.id, ignore=shutil.ignore_patterns("export", "hub.json"))
    with FakeHub({SECRET: "alice"}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.delenv("HF_TOKEN", raising=False)
        with running_app(runs) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_role("tab", name="Export").click()
            expect(page.locator("#export-run")).to_contain_text(tiny_sft_run.id, timeout=30000)
            expect(page.get_by_text("Token: none found")).to_be_visible()

            page.get_by_role("button", name="Zip the adapter").click()
            expect(page.get_by_role("link", name=re.compile(r"KB"))).to_be_visible(timeout=60000)  # the zip's link

            page.get_by_role("button", name="Merge and save the full model").click()
            expect(page.locator("#export-merge")).to_contain_text("adapted layers changed", timeout=120000)
            expect(page.locator("#export-merge")).to_contain_text("bf16")

            page.get_by_text("Model card", exact=True).click()
            page.get_by_role("button", name="Write the model card").click()
            expect(page.locator("#export-card")).to_contain_text("Training run", timeout=60000)

            page.get_by_role("textbox", name="Repository").fill("tuned")
            token = page.locator("#export-token input")
            token.fill(SECRET)
            assert token.get_attribute("type") == "password"
            page.get_by_role("button", name="Push to the Hub").click()
            expect(page.locator("#export-push")).to_contain_text("Pushed the adapter", timeout=180000)
            expect(page.locator("#export-push")).to_contain_text("Check passed")
            expect(token).to_have_value("")  # emptied after use
            page.screenshot(path=str(shots / "export.png"), full_page=True)

            page.get_by_role("button", name="Push to the Hub").click()  # the token field is empty now
            expect(page.locator("#export-push-note")).to_contain_text("no Hugging Face token", timeout=60000)
            # A refusal is a card under the button: no toast over the zip link, no "Error" pill.
            assert page.locator(".toast-body").count() == 0
            assert page.locator('text="Error" >> visible=true').count() == 0
            expect(page.get_by_role("link", name=re.compile(r"KB"))).to_be_visible()
            page.get_by_role("textbox", name="Repository").fill("")
            token.fill(SECRET)
            page.get_by_role("button", name="Push to the Hub").click()  # fails: no repository
            expect(page.locator("#export-push-note")).to_contain_text("repo: give a repository name", timeout=60000)
            expect(token).to_have_value("")  # emptied after a failed push too
            page.screenshot(path=str(shots / "export_refused.png"), full_page=True)
            page.get_by_role("textbox", name="Repository").fill("tuned")
            token.fill(SECRET)
            page.get_by_role("button", name="Push to the Hub").click()  # again: the repository exists
            expect(page.locator("#export-push")).to_contain_text("Already on the Hub", timeout=60000)
            expect(page.get_by_text("alice/tuned exists, tick to push a new commit")).to_be_visible()
            browser.close()
        log = (tmp_path / "app.log").read_text()
    assert hub.repos["alice/tuned"].private  # the switch is on by default
    assert "adapter_model.safetensors" in hub.repos["alice/tuned"].files
    assert SECRET not in log
    assert (shots / "export.png").stat().st_size > 10_000
