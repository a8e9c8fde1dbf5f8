"""The whole first hour in headless Chromium (issue 12): sample preview -> quick preset -> live
curves -> stop -> resume -> chat -> evaluate -> export zip -> push without a token.

On the embedded model, as a newcomer does it, with the quick preset shortened to a few steps so
the walk stays within minutes on two cores. Along the way it checks the ten moments that made the
studio look broken: refusals are cards in place (no red "Error" pills, at most one toast), the
Train form keeps the data the user chose, the probe table's key column is in view, the watchdog
stays quiet while the run evaluates and probes, a reload shows the running job's config, Resume is
in the Train tab, the summary counts every segment, and the push refusal leaves the zip link.
Screenshots go to $STUDIO_SCREENSHOTS (default: the test's tmp folder), to be looked at.
"""

import json
import os
import re
import time
from pathlib import Path

import pytest

from studio.runs.segments import read_segments

from .apphost import running_app
from .hubserver import FakeHub
from .test_browser import CHROMIUM, FLAGS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.heavy]
QUICK = "Quick CPU demo: LoRA SFT"
STEPS, SAVE, EVAL = 6, 2, 3  # the preset's 40 steps, shortened; an evaluation and probes at step 3
PILL = 'text="Error" >> visible=true'  # Gradio's red pill over an output whose event raised


class Watch:
    """The Train tab's status line as the user sees it, read every half second; every text kept."""

    def __init__(self, page):
        self.page, self.seen = page, []

    def until(self, pattern: str, timeout: float = 420) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.page.locator("#train-status").inner_text()
            self.seen.append(text)
            if re.search(pattern, text):
                return text
            self.page.wait_for_timeout(500)
        raise AssertionError(f"no /{pattern}/ in the status in {timeout} s; last: {self.seen[-1]!r}")


def no_error_shown(page) -> None:
    assert page.locator(PILL).count() == 0, "an output shows Gradio's Error pill"
    assert page.locator(".toast-body").count() <= 1, "more than one toast"


def number(page, label: str):
    return page.get_by_role("spinbutton", name=label, exact=True)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_whole_journey(embedded_dir, tmp_path, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    runs.mkdir()
    with FakeHub({}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.delenv("HF_TOKEN", raising=False)
        with running_app(runs) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            data_step(page, expect, shots)
            train_step(page, expect, shots)
            run_id = stop_and_resume(page, expect, shots, url)
            chat_step(page, expect, shots, run_id)
            evaluate_step(page, expect, shots)
            export_step(page, expect, shots)
            browser.close()
    summary = json.loads((runs / run_id / "summary.json").read_text())
    segments = read_segments(runs / run_id)
    assert summary["step"] == STEPS and summary["segments"] == len(segments) == 2  # start and resume
    assert sum(s["to_step"] - s["from_step"] for s in segments) == STEPS  # no step counted twice or lost
    assert summary["train_seconds"] == pytest.approx(sum(s["train_seconds"] for s in segments), abs=0.1)


def data_step(page, expect, shots):
    """The first screen says what to do; the sample is already previewed; a failed load is a card."""
    expect(page.locator("#first-steps")).to_contain_text(QUICK, timeout=30000)
    expect(page.locator("#data-summary")).to_contain_text("223 rows", timeout=120000)
    expect(page.locator("#training-text")).to_contain_text("assistant")
    page.screenshot(path=str(shots / "journey_1_first_screen.png"), full_page=True)
    page.get_by_label("or a path / Hub dataset id").fill("assets/missing.jsonl")
    page.get_by_role("button", name="Load and preview").click()
    expect(page.locator("#data-refused")).to_contain_text("missing.jsonl", timeout=30000)
    expect(page.locator("#data-summary")).to_contain_text("223 rows")  # the preview stays
    no_error_shown(page)
    assert page.locator(".toast-body").count() == 0
    page.screenshot(path=str(shots / "journey_2_data_refused.png"), full_page=True)
    page.get_by_label("or a path / Hub dataset id").fill("assets/sample_sft.jsonl")


def train_step(page, expect, shots):
    """A refused Start is a card; the quick preset fills the form; curves and probes go live."""
    page.get_by_role("tab", name="Train").click()
    dataset = page.get_by_role("textbox", name=re.compile(r"^Dataset Training data"))
    expect(dataset).to_have_value("assets/sample_sft.jsonl")  # the failed load did not reach the form
    number(page, "Batch size").fill("0")
    number(page, "Batch size").press("Tab")
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("#train-refused")).to_contain_text("batch_size", timeout=30000)
    no_error_shown(page)
    assert page.locator(".toast-body").count() == 0
    page.screenshot(path=str(shots / "journey_3_refused_start.png"), full_page=True)
    number(page, "Batch size").fill("4")
    number(page, "Batch size").press("Tab")
    expect(page.locator("#train-refused")).to_have_count(0, timeout=30000)  # fixed: the card goes

    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name=QUICK).click()
    page.get_by_role("button", name="Fill the form").click()
    expect(number(page, "Max steps")).to_have_value("40", timeout=30000)
    expect(number(page, "Batch size")).to_have_value("4")
    page.get_by_text("Evaluation, checkpoints, early stopping, tracker").click()  # a closed accordion
    for label, value in (("Max steps", STEPS), ("Save steps", SAVE), ("Eval steps", EVAL)):
        number(page, label).fill(str(value))
        number(page, label).press("Tab")
    page.get_by_role("button", name="Start training").click()
    watch = Watch(page)
    watch.until(r"running")
    # The probe table's key column (the latest answer) is in view beside the prompt.
    grid = page.get_by_role("grid", name=re.compile("Probe prompts"))
    headers = grid.get_by_role("columnheader")
    expect(headers).to_have_text([re.compile(w) for w in ("prompt", "current", "base")])
    key, box = headers.nth(1).bounding_box(), grid.bounding_box()
    assert box["x"] <= key["x"] and key["x"] + key["width"] <= box["x"] + box["width"] + 1
    watch.until(r"step [4-9]/")  # past the evaluation and probes at step 3
    page.screenshot(path=str(shots / "journey_4_training.png"), full_page=True)
    assert not [s for s in watch.seen if "stuck" in s], "the watchdog cried wolf while the run evaluated"
    page.wait_for_timeout(500)
    grid.scroll_into_view_if_needed()
    expect(grid.get_by_role("gridcell").nth(1)).not_to_be_empty(timeout=60000)  # an answer at step 3
    page.reload()
    page.get_by_role("tab", name="Train").click()
    expect(number(page, "Max steps")).to_have_value(str(STEPS), timeout=30000)  # the running job's config
    page.screenshot(path=str(shots / "journey_5_reloaded.png"), full_page=True)


def stop_and_resume(page, expect, shots, url) -> str:
    """Stop after a checkpoint; Resume from the Train tab; the run completes."""
    watch = Watch(page)
    page.get_by_role("button", name="Stop", exact=True).click()
    watch.until(r"stopped")
    resumable = page.get_by_role("combobox", name="Interrupted run", exact=True)
    expect(resumable).to_have_value(re.compile("quick-lora-sft"), timeout=30000)
    run_id = resumable.input_value()
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.locator("#train-message")).to_contain_text("Resumed", timeout=60000)
    watch.until(r"completed", timeout=600)
    page.screenshot(path=str(shots / "journey_6_resumed_completed.png"), full_page=True)
    assert not [s for s in watch.seen if "stuck" in s]
    return run_id


def chat_step(page, expect, shots, run_id):
    """The base and the new adapter answer the same question side by side."""
    page.get_by_role("tab", name="Chat").click()
    expect(page.get_by_role("combobox", name="Column 2", exact=True)).to_have_value(
        re.compile(re.escape(run_id)), timeout=30000
    )
    number(page, "Max new tokens").fill("24")
    page.get_by_placeholder("Ask every column...").fill("Who are you?")
    page.get_by_role("button", name="Send", exact=True).click()
    for column in ("#chat-1", "#chat-2"):
        expect(page.locator(f"{column} .message-row").nth(1)).to_be_visible(timeout=180000)
    expect(page.locator("#next-token-chart .js-plotly-plot")).to_be_visible(timeout=180000)  # after the replies
    page.get_by_role("button", name="Send", exact=True).click()  # nothing typed: a card, nothing else
    expect(page.locator("#chat-note")).to_contain_text("type something first", timeout=30000)
    no_error_shown(page)
    page.screenshot(path=str(shots / "journey_7_chat.png"), full_page=True)


def evaluate_step(page, expect, shots):
    """Base vs adapter on the run's held-out rows."""
    page.get_by_role("tab", name="Evaluate").click()
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(re.compile("quick"), timeout=30000)
    for label, value in (("Max rows", 8), ("Generate rows", 2), ("Max new tokens", 16)):
        number(page, label).fill(str(value))
    page.get_by_role("button", name="Evaluate base vs adapter").click()
    expect(page.locator("#eval-status")).to_contain_text("validation rows", timeout=300000)
    expect(page.locator("#eval-table")).to_contain_text("Perplexity")
    no_error_shown(page)
    page.screenshot(path=str(shots / "journey_8_evaluate.png"), full_page=True)


def export_step(page, expect, shots):
    """Zip the adapter; a push without a token is refused beside the button, the zip link stays."""
    page.get_by_role("tab", name="Export").click()
    page.get_by_role("button", name="Zip the adapter").click()
    link = page.get_by_role("link", name=re.compile(r"KB|MB"))
    expect(link).to_be_visible(timeout=120000)
    page.get_by_role("textbox", name="Repository").fill("tuned")
    page.get_by_role("button", name="Push to the Hub").click()
    expect(page.locator("#export-push-note")).to_contain_text("no Hugging Face token", timeout=60000)
    expect(link).to_be_visible()
    no_error_shown(page)
    assert page.locator(".toast-body").count() == 0
    expect(page.locator("#export-token input")).to_have_value("")
    page.screenshot(path=str(shots / "journey_9_export_push_refused.png"), full_page=True)
