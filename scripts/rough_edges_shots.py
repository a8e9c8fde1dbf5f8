"""Before/after screenshots of issue 33's rough edges: the same clicks on app.py at CHECKOUT, with the
runs that scripts/rough_edges_runs.py made, saved as OUTDIR/rough-PREFIX-*.png; what each scene
measured (legend names, the slider's range, the progress bars drawn...) is printed as JSON.

    .venv/bin/python scripts/rough_edges_runs.py /tmp/rough-shots/runs
    mkdir -p /tmp/before && git archive <commit before> | tar -x -C /tmp/before
    .venv/bin/python scripts/rough_edges_shots.py /tmp/before docs/screenshots before /tmp/rough-shots/runs
    .venv/bin/python scripts/rough_edges_shots.py . docs/screenshots after /tmp/rough-shots/runs
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

root, out, prefix, runs_source = Path(sys.argv[1]).resolve(), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
out.mkdir(parents=True, exist_ok=True)
ASSETS = Path(__file__).resolve().parents[1] / "assets"
work = Path(f"/tmp/rough-shots-{prefix}")
shutil.rmtree(work, ignore_errors=True)
shutil.copytree(runs_source, work / "runs")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = {**os.environ, "STUDIO_RUNS_DIR": str(work / "runs"), "STUDIO_DATA_DIR": str(work / "datasets")}
env.update(GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(root))
env["STUDIO_DATA_DIRS"] = os.pathsep.join([str(root), str(runs_source.parent)])  # the tiny model's folder
log = open(work / "app.log", "w")
proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--no-browser"], cwd=root, env=env,
                        stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
url = f"http://127.0.0.1:{port}/"
found: dict = {}
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a kill still stops the app (finally, below)


def shot(page, name: str, locator=None) -> None:
    path = out / f"rough-{prefix}-{name}.png"
    if locator is None:
        page.screenshot(path=str(path), full_page=True, timeout=120000)
    else:
        locator.screenshot(path=str(path), timeout=120000)


def scene(fn):
    try:
        fn()
    except Exception:  # a scene the old checkout cannot play: say so, go on with the next
        found[fn.__name__] = "failed: " + traceback.format_exc(limit=1).strip().splitlines()[-1]


try:
    for _ in range(400):
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("rows, format").first.wait_for(timeout=120000)  # the sample's preview

        def data_preview():
            length = page.get_by_label("Max length")
            length.fill("64")
            page.get_by_role("button", name="Load and preview").click()
            page.wait_for_timeout(6000)
            found["summary"] = page.locator("#data-summary").inner_text()
            found["legend"] = page.locator("#training-text .legend-item").all_inner_texts()
            found["slider_max"] = page.locator("input[type=range]").first.get_attribute("max")
            found["word_break"] = page.evaluate(
                "getComputedStyle(document.querySelector('#training-text .textfield')).wordBreak"
            )
            page.locator("#data-summary").scroll_into_view_if_needed()
            shot(page, "data-preview", page.locator("#data-summary").locator("xpath=../.."))
            shot(page, "training-text", page.locator("#training-text"))
            page.set_viewport_size({"width": 400, "height": 800})  # where long lines wrap: mid-word before
            page.wait_for_timeout(1500)
            shot(page, "training-text-phone", page.locator("#training-text"))
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.wait_for_timeout(1000)

        def upload_then_use_cleaned():
            page.locator("input[type=file]").first.set_input_files(str(ASSETS / "sample_dpo.jsonl"))
            page.wait_for_timeout(8000)
            found["source_after_upload"] = page.get_by_label("or a path / Hub dataset id").input_value()
            found["legend_dpo"] = page.locator("#training-text .legend-item").all_inner_texts()
            page.evaluate("window.scrollTo(0, 0)")
            shot(page, "upload")
            page.get_by_role("button", name="Clean and save").click()
            page.wait_for_timeout(8000)
            page.get_by_role("button", name="Use cleaned data in Train").click()
            page.wait_for_timeout(8000)
            found["source_after_use"] = page.get_by_label("or a path / Hub dataset id").input_value()
            found["upload_box_after_use"] = page.locator("input[type=file]").first.locator("xpath=../..").inner_text()
            page.evaluate("window.scrollTo(0, 0)")
            shot(page, "use-cleaned")

        def runs_summary_and_curves():
            page.get_by_role("tab", name="Runs").click()
            page.wait_for_timeout(3000)
            for kind in ("sft", "grpo"):
                page.get_by_role("combobox", name="Run", exact=True).click()
                page.get_by_role("option", name=kind, exact=False).first.click()
                page.get_by_role("button", name="Open", exact=True).click()
                page.wait_for_timeout(6000)
                plot = page.locator(".js-plotly-plot:visible").first
                found[f"{kind}_panels"] = plot.locator(".annotation-text").all_inner_texts()
                found[f"{kind}_legend_entries"] = plot.locator(".legendtext").count()
                found[f"{kind}_legends"] = plot.locator("g.legend").count()
                shot(page, f"runs-{kind}")

        def export_gguf():
            page.get_by_role("tab", name="Export").click()
            page.wait_for_timeout(4000)
            page.get_by_role("combobox", name="Run", exact=True).click()
            page.get_by_role("option", name="sft", exact=False).first.click()  # GRPO's tiny adapter did not move
            page.wait_for_timeout(1000)
            page.get_by_text("GGUF for llama.cpp and Ollama").click()
            page.wait_for_timeout(1000)
            kind = page.get_by_role("combobox", name="GGUF type")
            found["gguf_type"] = kind.input_value()
            found["push_gguf_button"] = page.get_by_role("button", name="Push the").inner_text()
            page.get_by_role("button", name="Write and check the GGUF").click()
            page.wait_for_timeout(3000)
            if found["gguf_type"] == "none":  # the first click is refused: choose a type, click again
                found["first_click"] = page.locator("#export-gguf-note").inner_text()
                shot(page, "export-gguf-refused")
                kind.click()
                page.get_by_role("option", name="q8_0", exact=True).click()
                page.get_by_role("button", name="Write and check the GGUF").click()
            most = 0
            for _ in range(200):  # the progress bars drawn while it writes, at their most
                bars = page.locator(".progress-level:visible, .eta-bar:visible").count()
                if bars > most:
                    most = bars
                    shot(page, "export-gguf-progress")
                if page.locator("#export-gguf").inner_text().strip() or page.locator("#export-gguf-note").inner_text():
                    break
                page.wait_for_timeout(250)
            found["progress_bars_at_most"] = most
            page.get_by_text("ollama create").first.wait_for(timeout=180000)
            shot(page, "export-gguf-done")
            found["push_gguf_button_after"] = page.get_by_role("button", name="Push the").inner_text()

        def grpo_preset_review():
            page.get_by_role("tab", name="Train").click()
            page.get_by_role("combobox", name="Preset").click()
            page.get_by_role("option", name="Quick CPU demo: GRPO arithmetic").click()
            page.get_by_role("button", name="Fill the form").click()
            page.locator("#train-review", has_text="240 training rows").wait_for(timeout=120000)
            found["grpo_review"] = page.locator("#train-review").inner_text()[:600]
            page.locator("#train-review").scroll_into_view_if_needed()
            shot(page, "grpo-review")

        for fn in (data_preview, upload_then_use_cleaned, runs_summary_and_curves, export_gguf, grpo_preset_review):
            scene(fn)
        browser.close()
finally:
    proc.terminate()
    proc.wait(20)
print(json.dumps(found, indent=1))
