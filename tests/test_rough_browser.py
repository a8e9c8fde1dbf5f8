"""Issue 33's smaller rough edges as a person meets them, in headless Chromium, on one app: the Data
tab's legend, line breaks, Example slider, max-length advice, uploads and the cleaned hand-off; the
Runs summary and curves; the Export tab's GGUF type, progress bar and push button.

The screenshots go to $STUDIO_SCREENSHOTS (default: the test's tmp folder) to be looked at;
scripts/rough_edges_shots.py makes the before/after pairs in docs/screenshots.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from .apphost import running_app
from .conftest import ROOT
from .test_browser import CHROMIUM, FLAGS

# One app, three tabs, a GGUF written: about 2.5 minutes on two busy cores, so not in CI's budget.
pytestmark = [pytest.mark.browser, pytest.mark.heavy]


def data_tab(page, expect, shots: Path) -> None:
    page.get_by_label("Max length").fill("64")
    page.get_by_role("button", name="Load and preview").click()
    summary = page.locator("#data-summary")
    expect(summary).to_contain_text("157 of 223 exceed the max length 64", timeout=60000)
    expect(summary).to_contain_text("Set the max length to 128 to keep 95% of the rows whole")
    text = page.locator("#training-text")
    expect(text.locator(".legend-item")).to_have_text(["trained"])  # no "rejected" on SFT data
    assert text.locator(".textfield").evaluate("e => getComputedStyle(e).wordBreak") == "normal"
    slider = page.locator("input[type=range]").first
    assert slider.get_attribute("max") == "50"  # was 5
    expect(page.get_by_text("Which row to show: one of the first 50 of 223 rows.")).to_be_visible()
    page.screenshot(path=str(shots / "rough-data.png"), full_page=True)

    page.locator("#data-upload input[type=file]").set_input_files(str(ROOT / "assets" / "sample_dpo.jsonl"))
    source = page.get_by_label("or a path / Hub dataset id")
    expect(source).to_have_value("sample_dpo.jsonl (uploaded)", timeout=30000)  # not /tmp/gradio/<64 hex>/...
    expect(summary).to_contain_text("101 rows", timeout=60000)
    expect(text.locator(".legend-item")).to_have_text(["trained", "rejected"])
    page.get_by_role("button", name="Clean and save").click()
    expect(page.locator("#clean-report")).to_contain_text("Kept 101 of 101 rows", timeout=60000)
    page.get_by_role("button", name="Use cleaned data in Train").click()
    expect(source).to_have_value(re.compile(r"sample_dpo-clean-\w+\.jsonl$"))
    expect(page.locator("#data-upload")).not_to_contain_text("sample_dpo.jsonl")  # the old file is gone
    page.screenshot(path=str(shots / "rough-data-cleaned.png"), full_page=True)


def runs_tab(page, expect, run_id: str, shots: Path) -> None:
    page.get_by_role("tab", name="Runs").click()
    page.get_by_role("button", name="Open", exact=True).click()
    summary = page.locator("#runs-summary")
    expect(summary.locator("table")).to_contain_text("8 of 8", timeout=30000)  # a table, not JSON
    expect(summary).to_contain_text(run_id)
    expect(summary.locator("td", has_text="training time")).to_be_visible()
    plot = page.locator(".js-plotly-plot:visible").first  # the Data tab's histogram is hidden now
    expect(plot.locator(".annotation-text", has_text="Loss")).to_be_visible()
    assert plot.locator(".annotation-text", has_text="Clipped share").count() == 0
    page.screenshot(path=str(shots / "rough-runs.png"), full_page=True)


def export_tab(page, expect, shots: Path) -> None:
    page.get_by_role("tab", name="Export").click()
    page.get_by_text("GGUF for llama.cpp and Ollama").click()
    kind = page.get_by_role("combobox", name="GGUF type")
    expect(kind).to_have_value("q8_0")  # was none: the first click was refused
    expect(page.get_by_role("button", name="Push the q8_0 GGUF with its Modelfile")).to_be_visible()
    page.get_by_role("button", name="Write and check the GGUF").click()
    most = 0
    while not page.locator("#export-gguf").inner_text().strip():
        bars = page.locator(".progress-level:visible")
        most = max(most, bars.count())
        if bars.count() == 1 and most == 1 and not (shots / "rough-export-progress.png").exists():
            assert bars.first.bounding_box()["height"] > 0  # drawn where it can be seen
            page.screenshot(path=str(shots / "rough-export-progress.png"), full_page=True)
        page.wait_for_timeout(100)
    assert most == 1  # two drew at once (on the note and on the files)
    expect(page.locator("#export-gguf")).to_contain_text("Saved and checked", timeout=120000)
    assert page.locator("#export-gguf-note .studio-card-error").count() == 0
    kind.click()
    page.get_by_role("option", name="f16", exact=True).click()
    expect(page.get_by_role("button", name="Push the f16 GGUF with its Modelfile")).to_be_visible()
    page.screenshot(path=str(shots / "rough-export.png"), full_page=True)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_the_rough_edges_are_smoothed(tiny_sft_run, tmp_path, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("STUDIO_CLEANED_DIR", str(tmp_path / "datasets"))  # where Clean saves
    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    shutil.copytree(tiny_sft_run.path, runs / tiny_sft_run.id, ignore=shutil.ignore_patterns("export", "hub.json"))
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        expect(page.locator("#data-summary")).to_contain_text("223 rows", timeout=120000)  # the sample, at once
        data_tab(page, expect, shots)
        runs_tab(page, expect, tiny_sft_run.id, shots)
        export_tab(page, expect, shots)
        browser.close()
