"""A person's view of the Chat and Evaluate tabs in headless Chromium (screenshots kept).

Screenshots go to $STUDIO_SCREENSHOTS (default: the test's tmp folder) to be looked at.
"""

import os
import shutil
from pathlib import Path

import pytest

from .apphost import running_app
from .test_browser import CHROMIUM, FLAGS

pytestmark = [pytest.mark.browser, pytest.mark.heavy]  # the journey walks chat and evaluate too (heavy as well)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_chat_and_evaluate_tabs(tiny_sft_run, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    shutil.copytree(tiny_sft_run.path, runs / tiny_sft_run.id)
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        page.get_by_role("tab", name="Chat").click()
        expect(page.get_by_role("combobox", name="Column 2", exact=True)).to_have_value(
            tiny_sft_run.id, timeout=30000
        )  # newest run picked
        page.get_by_placeholder("Ask every column...").fill("Who are you?")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#chat-2 .message-row").nth(1)).to_be_visible(timeout=60000)
        expect(page.locator("#next-token-chart .js-plotly-plot")).to_be_visible(timeout=60000)
        page.get_by_role("button", name="Column 2 answered better").click()
        expect(page.locator("#arena-status")).to_contain_text("Recorded 1 preference pair", timeout=30000)
        page.screenshot(path=str(shots / "chat-columns.png"), full_page=True)
        page.get_by_placeholder("Ask every column...").fill("Say it again, shorter.")
        page.get_by_role("button", name="Send").click()  # a next turn: each column continues from its first
        expect(page.locator("#chat-2 .message-row").nth(3)).to_be_visible(timeout=60000)
        expect(page.locator("#chat-1 .message-row").nth(3)).to_be_visible(timeout=60000)
        page.screenshot(path=str(shots / "chat-second-turn.png"), full_page=True)

        page.get_by_role("tab", name="Evaluate").click()
        expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(tiny_sft_run.id, timeout=30000)
        page.get_by_role("button", name="Evaluate base vs adapter").click()
        expect(page.locator("#eval-table")).to_contain_text("Perplexity", timeout=120000)
        expect(page.locator("#eval-chart .js-plotly-plot")).to_be_visible()
        page.get_by_text("Batch compare").click()
        page.get_by_role("button", name="Take prompts from the run's validation split").click()
        expect(page.locator("#compare-prompts textarea")).not_to_have_value("", timeout=30000)
        page.get_by_role("button", name="Compare", exact=True).click()
        expect(page.locator("#compare-table")).to_contain_text("answered identically", timeout=120000)
        page.screenshot(path=str(shots / "evaluate.png"), full_page=True)
        browser.close()
    assert (runs / "arena" / "preferences.jsonl").exists() and (runs / tiny_sft_run.id / "eval.json").exists()
