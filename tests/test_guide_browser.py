"""The form that guides, as a newcomer meets it in headless Chromium (issue 33).

GRPO preset, then the SFT preset: the SFT sample and the SFT plan in the review. Method DPO on
the alpaca sample: the refusal with a one-click shipped example, the method's help still shown.
Preference pairs uploaded while on SFT: a one-click switch to DPO. Screenshots go to
$STUDIO_SCREENSHOTS (default: the test's tmp folder).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from .apphost import running_app
from .conftest import REAL_DATA

pytestmark = [pytest.mark.browser, pytest.mark.heavy]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
GRPO, SFT = "Quick CPU demo: GRPO arithmetic", "Quick CPU demo: LoRA SFT"


def fill_preset(page, name: str) -> None:
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name=name).click()
    page.get_by_role("button", name="Fill the form").click()


def shot(page, path: Path) -> None:
    """The form's top (preset, model and method, the guide) beside the review, as the user sees it."""
    page.evaluate("window.scrollTo(0, 0)")  # bounding boxes are then page coordinates
    top = page.get_by_role("combobox", name="Preset").bounding_box()["y"] - 40
    guide = page.locator("#train-guide").bounding_box()
    bottom = max(guide["y"] + guide["height"] + 60, page.locator("#review-batch").bounding_box()["y"] + 40)
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": top, "width": 1280, "height": bottom - top})


def pick(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_presets_methods_and_data_steer_each_other(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.get_by_role("tab", name="Train").click()
        dataset = page.get_by_role("textbox", name=re.compile(r"^Dataset Training data"))
        batch = page.locator("#review-batch")
        expect(batch).to_contain_text("steps", timeout=60000)

        # The review comes with the fill: once the form shows the preset, the review shows its plan.
        fill_preset(page, GRPO)
        expect(dataset).to_have_value("assets/arithmetic_grpo.jsonl", timeout=30000)
        assert "Effective batch 2 x 1" in batch.inner_text() and "240 training rows" in batch.inner_text()
        fill_preset(page, SFT)  # another preset's shipped file does not stay
        expect(dataset).to_have_value("assets/sample_sft.jsonl", timeout=30000)
        assert "Effective batch 4 x 1" in batch.inner_text() and "212 training rows" in batch.inner_text()
        expect(batch).to_contain_text("max_steps: 40 steps")
        shot(page, shots / "after_preset_sft_after_grpo.png")

        pick(page, "Method", "dpo")
        guide = page.locator("#train-guide")
        expect(guide).to_contain_text("DPO needs preference pairs", timeout=30000)
        expect(guide).to_contain_text("assets/sample_dpo.jsonl")
        example = page.get_by_role("button", name="Use the shipped example (assets/sample_dpo.jsonl)")
        expect(example).to_be_visible()
        expect(page.get_by_role("button", name="Use the preset 'Quick CPU demo: LoRA DPO'")).to_be_visible()
        expect(page.get_by_text("sft: imitate the answers").first).to_be_visible()  # the method's help stays
        shot(page, shots / "after_method_dpo_on_alpaca.png")
        example.click()
        expect(dataset).to_have_value("assets/sample_dpo.jsonl", timeout=30000)
        expect(example).to_be_hidden(timeout=30000)
        expect(guide).not_to_contain_text("DPO needs")

        pick(page, "Method", "sft")
        page.get_by_role("tab", name="Data").click()
        page.locator("input[type=file]").first.set_input_files(str(REAL_DATA / "dpo_en_demo.json"))
        expect(page.locator("#data-summary")).to_contain_text("300 rows", timeout=60000)
        page.get_by_role("tab", name="Train").click()
        expect(dataset).to_have_value(re.compile(r"dpo_en_demo\.json$"), timeout=30000)
        switch = page.get_by_role("button", name="Switch Method to DPO")
        expect(switch).to_be_visible(timeout=30000)
        expect(guide).to_contain_text("preference pairs")
        shot(page, shots / "after_pairs_on_sft.png")
        switch.click()
        expect(page.get_by_role("combobox", name="Method", exact=True)).to_have_value("dpo", timeout=30000)
        expect(switch).to_be_hidden(timeout=30000)
        browser.close()
