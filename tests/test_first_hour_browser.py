"""What a newcomer meets in the first hour (issue 12), in headless Chromium.

The first screen (three steps, the sample already previewed), a failed Data load that leaves the
Train form alone, a refused Start shown as a card (no error pills, no toast), a reload while a job
runs (the form shows that job's config), Stop, then Resume from the Train tab. Screenshots go to
$STUDIO_SCREENSHOTS (default: the test's tmp folder) to be looked at.
"""

import os
import re
import time
from pathlib import Path

import pytest

from .apphost import running_app
from .conftest import ROOT
from .test_browser import CHROMIUM, FLAGS
from .test_runs_ui import form_values

pytestmark = pytest.mark.browser


def wait_for(client, words: tuple[str, ...], timeout: float = 240) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, *_ = client.predict(api_name="/progress")
        if any(f"<b>{w}</b>" in status for w in words):
            return status
        time.sleep(0.5)
    raise AssertionError(f"no {words} in time: {status}")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_first_hour(tiny_model_dir, tmp_path):
    from gradio_client import Client
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        # 1. The first screen says what to do, and step 1 is already shown.
        expect(page.locator("#first-steps")).to_contain_text("Quick CPU demo: LoRA SFT", timeout=30000)
        expect(page.locator("#data-summary")).to_contain_text("223 rows", timeout=90000)
        page.screenshot(path=str(shots / "first_screen.png"), full_page=True)

        # 2. A failed load leaves the Train form's dataset as it was.
        page.get_by_label("or a path / Hub dataset id").fill("assets/missing.jsonl")
        page.get_by_role("button", name="Load and preview").click()
        expect(page.locator("#data-summary")).to_contain_text("223 rows")
        page.get_by_role("tab", name="Train").click()
        dataset = page.get_by_role("textbox", name=re.compile(r"^Dataset Training data"))
        expect(dataset).to_have_value("assets/sample_sft.jsonl")
        # The probe table's key column (the latest answer) is second, inside the table's visible width.
        grid = page.get_by_role("grid", name=re.compile("Probe prompts"))
        grid.scroll_into_view_if_needed()
        headers = grid.get_by_role("columnheader")
        expect(headers).to_have_text([re.compile(w) for w in ("prompt", "current", "base")])
        key, box = headers.nth(1).bounding_box(), grid.bounding_box()
        assert box["x"] <= key["x"] and key["x"] + key["width"] <= box["x"] + box["width"] + 1

        # 3. A refused Start: a card by the button; no error pills, no toast.
        batch = page.get_by_role("spinbutton", name="Batch size", exact=True)
        batch.fill("0")
        batch.press("Tab")
        expect(page.locator(".toast-body")).to_have_count(0, timeout=30000)  # the failed load's toast is gone
        page.get_by_role("button", name="Start training").click()
        expect(page.locator("#train-refused")).to_contain_text("batch_size", timeout=30000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "refused_start.png"), full_page=True)
        assert page.locator(".toast-body").count() == 0
        assert page.locator('text="Error" >> visible=true').count() == 0  # Gradio's pill over an output
        expect(page.locator("#train-status")).to_be_visible()

        # 4. A job started elsewhere; a reload shows its config in the form.
        client = Client(url, verbose=False)
        tiny = dict(model=str(tiny_model_dir), precision="fp32", max_steps=400, max_rows=24, max_length=64)
        tiny.update(save_steps=2, eval_steps=0, dataset=str(ROOT / "assets" / "sample_sft.jsonl"))
        client.predict(*form_values(client, **tiny), api_name="/start_training")
        wait_for(client, ("running",))
        page.reload()
        page.get_by_role("tab", name="Train").click()
        expect(page.get_by_role("spinbutton", name="Max steps", exact=True)).to_have_value("400", timeout=30000)
        expect(page.get_by_role("combobox", name="Base model", exact=True)).to_have_value(str(tiny_model_dir))
        page.screenshot(path=str(shots / "reloaded.png"), full_page=True)

        # 5. Stop, then Resume from the Train tab.
        while int(re.search(r"step (\d+)/", client.predict(api_name="/progress")[0]).group(1)) < 3:
            time.sleep(0.5)  # past the first checkpoint (save_steps=2)
        page.get_by_role("button", name="Stop", exact=True).click()
        wait_for(client, ("stopped",))
        resumable = page.get_by_role("combobox", name="Interrupted run", exact=True)
        expect(resumable).to_have_value(re.compile(r"tiny|sft"), timeout=30000)
        page.get_by_role("button", name="Resume", exact=True).click()
        expect(page.locator("#train-message")).to_contain_text("Resumed", timeout=60000)
        page.screenshot(path=str(shots / "resumed.png"), full_page=True)
        client.predict(api_name="/stop_training")
        wait_for(client, ("stopped", "completed", "failed"))
        browser.close()
