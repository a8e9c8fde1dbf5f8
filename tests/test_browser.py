"""A person's view: headless Chromium clicks through the tabs; a screenshot of each is kept.

Screenshots go to $STUDIO_SCREENSHOTS (default: the test's tmp folder) to be looked at.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from .apphost import running_app

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (scripts/setup.sh test installs it)"
)
def test_tabs_render(tmp_path, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("STUDIO_CLEANED_DIR", str(tmp_path / "datasets"))  # where Clean saves

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        expect(page.get_by_text("Fine-tuning Studio").first).to_be_visible(timeout=30000)

        page.get_by_role("button", name="Load and preview").click()
        expect(page.get_by_text("223 rows", exact=True)).to_be_visible(timeout=60000)
        expect(page.locator("#training-text")).to_contain_text("Arr, matey!")
        expect(page.locator("#training-text")).to_contain_text("<|im_start|>assistant")
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30000)  # token-length histogram
        page.get_by_role("button", name="Clean and save").click()
        expect(page.locator("#clean-report")).to_contain_text("Kept 223 of 223 rows", timeout=60000)
        page.screenshot(path=str(shots / "data.png"), full_page=True)
        page.get_by_role("button", name="Use cleaned data in Train").click()
        expect(page.get_by_label("or a path / Hub dataset id")).to_have_value(
            re.compile(r"sample_sft-clean-\w+\.jsonl")
        )

        page.get_by_role("tab", name="Train").click()
        expect(page.get_by_role("button", name="Start training")).to_be_visible()
        expect(page.get_by_label("LoRA rank r").first).to_be_visible()
        expect(page.get_by_label("Dataset").first).to_have_value(re.compile(r"sample_sft-clean-\w+\.jsonl"))
        page.screenshot(path=str(shots / "train.png"), full_page=True)

        page.get_by_role("tab", name="Chat").click()
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        expect(page.get_by_text("Base model").first).to_be_visible()
        page.screenshot(path=str(shots / "chat.png"), full_page=True)

        upload = tmp_path / "upload.csv"  # an uploaded file loads at once
        upload.write_text("instruction,output\nCapital of Peru?,Lima.\nCapital of Chile?,Santiago.\n")
        page.get_by_role("tab", name="Data").click()
        page.locator("input[type=file]").first.set_input_files(str(upload))
        expect(page.locator("#data-summary")).to_contain_text("2 rows", timeout=60000)
        expect(page.locator("#training-text")).to_contain_text("Lima.")
        browser.close()
    assert all((shots / f"{name}.png").stat().st_size > 10_000 for name in ("data", "train", "chat"))
