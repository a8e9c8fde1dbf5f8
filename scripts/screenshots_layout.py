"""Before/after screenshots of issue 33's layout items: the same clicks on app.py at CHECKOUT, saved
as OUTDIR/layout-PREFIX-*.png, at 1440x900 and at 400x800 (a phone).

    git archive ab07b8e | tar -x -C /tmp/layout-before      # the Train tab before the layout work
    .venv/bin/python scripts/screenshots_layout.py /tmp/layout-before docs/screenshots before
    .venv/bin/python scripts/screenshots_layout.py . docs/screenshots after [--phone-only]

It trains, on a tiny random model in /tmp, two 3-step SFT runs before the app
starts, and a short GRPO run from the Train tab (its YAML loaded with "Load config YAML", then Start);
Runs -> Compare then lists the three.
Prints the y of Start on the phone's Train tab and the headers of the tables it looks at.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from studio.config import RunConfig  # noqa: E402

TMP = Path("/tmp/studio-layout-shots")
os.environ.setdefault("STUDIO_DATA_DIRS", os.pathsep.join([str(HERE), str(TMP)]))


def tiny_model() -> Path:
    from studio.bench.tiny import make_tiny_model

    folder = TMP / "tiny"
    if not (folder / "config.json").exists():
        make_tiny_model(folder)
    return folder


def recipe(model: Path, **values) -> RunConfig:
    from studio.schema import apply_overrides

    config = RunConfig()
    base = dict(model=str(model), precision="fp32", max_rows=24, max_steps=3, batch_size=4, max_length=128)
    apply_overrides(config, {"save_steps": 0, "dataset": "assets/sample_sft.jsonl", **base, **values})
    return config


def sft_runs(model: Path) -> Path:
    """Two finished SFT runs that differ in learning rate and LoRA rank, made once."""
    from studio.train.jobs.manager import JobManager

    runs = TMP / "runs-made"
    if not runs.is_dir():
        jobs = JobManager(runs)
        for lr, r in ((1e-3, 8), (5e-3, 16)):
            jobs.start(recipe(model, learning_rate=lr, lora_r=r, lora_alpha=2 * r))
            assert jobs.wait(300).status == "completed"
    return runs


def grpo_yaml(model: Path) -> Path:
    grpo = dict(method="grpo", dataset="assets/arithmetic_grpo.jsonl", batch_size=2, max_steps=8)
    grpo.update(num_generations=2, max_completion_length=8, reward_format=1.0, logging_steps=1)
    path = TMP / "grpo.yaml"
    recipe(model, **grpo).save(path)
    return path


def launch(root: Path, runs: Path) -> tuple[subprocess.Popen, str]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = {**os.environ, "STUDIO_RUNS_DIR": str(runs), "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(root)}
    env["STUDIO_DATA_DIRS"] = os.pathsep.join([str(root), str(TMP)])
    log = open(runs.parent / f"app-{runs.name}.log", "w")
    cmd = [sys.executable, "app.py", "--port", str(port), "--no-browser"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(900):  # minutes on a busy machine
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("app.py did not answer")


def headers(page, name: str) -> list[str]:
    grid = page.get_by_role("grid", name=name)
    return [h.replace("⋮", "").strip() for h in grid.get_by_role("columnheader").all_inner_texts()]


def desktop(page, out: Path, prefix: str, yaml: Path, runs: Path) -> None:
    page.wait_for_selector("#data-summary:has-text('223 rows')", timeout=120000)
    table = page.get_by_role("grid", name="First rows")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.screenshot(path=str(out / f"layout-{prefix}-data-first-rows.png"), clip={**box, "height": box["height"] + 10})
    print("first rows:", headers(page, "First rows"))
    page.get_by_role("tab", name="Train").click()
    page.wait_for_selector("#review-batch", timeout=60000)
    page.screenshot(path=str(out / f"layout-{prefix}-train-1440.png"), full_page=True)
    page.get_by_text("Config file and headless command").click()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Load config YAML").click()
    chooser.value.set_files(str(yaml))
    page.wait_for_function("document.querySelector('#review-batch')?.innerText.includes('Effective batch 2 x 1')")
    page.wait_for_timeout(1000)
    start = page.get_by_role("button", name="Start training")
    start.click()
    page.wait_for_selector("#train-status:has-text('running')", timeout=120000)
    page.wait_for_selector("text=GRPO: sampled answers", timeout=120000)
    print("start enabled while training:", start.is_enabled())
    start.scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"layout-{prefix}-train-training-1440.png"))
    page.wait_for_selector("#train-status:has-text('completed')", timeout=300000)
    page.wait_for_timeout(2000)
    print("start enabled after:", start.is_enabled())
    print("GRPO samples:", headers(page, "GRPO: sampled answers of the latest step, best first"))
    samples = page.get_by_role("grid", name="GRPO: sampled answers of the latest step, best first")
    samples.scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"layout-{prefix}-grpo-answers-1440.png"))
    page.get_by_role("tab", name="Runs").click()
    page.get_by_role("combobox", name="Runs to overlay").click()
    for run_id in sorted(p.name for p in runs.iterdir() if p.is_dir()):  # the two SFT runs and the GRPO run
        page.get_by_role("option", name=run_id).click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_timeout(4000)
    diff = page.get_by_role("grid", name="Config differences")
    diff.scroll_into_view_if_needed()
    print("config differences:", headers(page, "Config differences"))
    page.screenshot(path=str(out / f"layout-{prefix}-runs-compare-1440.png"))


def phone(page, out: Path, prefix: str) -> None:
    page.wait_for_selector("#data-summary:has-text('223 rows')", timeout=120000)
    page.get_by_role("tab", name="Train").click()
    page.wait_for_selector("#review-batch", timeout=60000)
    page.wait_for_timeout(1000)
    page.evaluate("window.scrollTo(0, 0)")
    y = page.get_by_role("button", name="Start training").bounding_box()["y"]
    print(f"phone: Start at y={y:.0f} px (a screen is 800 px), page {page.evaluate('document.body.scrollHeight')} px")
    page.screenshot(path=str(out / f"layout-{prefix}-train-400.png"), full_page=True)
    page.get_by_role("tab", name="Chat").click()
    page.wait_for_timeout(2000)
    widths = [page.locator(f"#chat-{i}").bounding_box()["width"] for i in (1, 2)]
    print("phone: chat column widths", widths)
    page.screenshot(path=str(out / f"layout-{prefix}-chat-400.png"), full_page=True)


def main():
    root, out, prefix = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), sys.argv[3]
    out.mkdir(parents=True, exist_ok=True)
    TMP.mkdir(exist_ok=True)
    model = tiny_model()
    runs = TMP / f"runs-{prefix}"
    shutil.rmtree(runs, ignore_errors=True)
    shutil.copytree(sft_runs(model), runs)
    yaml = grpo_yaml(model)
    proc, url = launch(root, runs)
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
            if "--phone-only" not in sys.argv:
                page = b.new_page(viewport={"width": 1440, "height": 900})
                page.goto(url)
                desktop(page, out, prefix, yaml, runs)
                page.close()
            page = b.new_page(viewport={"width": 400, "height": 800})
            page.goto(url)
            phone(page, out, prefix)
            b.close()
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
