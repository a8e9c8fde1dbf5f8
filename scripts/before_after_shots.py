"""Before/after screenshots of the first moments of issue 12: the same clicks (first screen, a failed Data
load, a refused Start, an empty Chat send) on app.py at CHECKOUT, saved as OUTDIR/PREFIX_*.png.

    git worktree add --detach /tmp/old ebccf5a
    .venv/bin/python scripts/before_after_shots.py /tmp/old docs/screenshots before
    .venv/bin/python scripts/before_after_shots.py . docs/screenshots after
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

root, out, prefix = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
out.mkdir(parents=True, exist_ok=True)
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
runs = Path(f"/tmp/studio-shots-runs-{prefix}")
runs.mkdir(parents=True, exist_ok=True)
env = {**os.environ, "STUDIO_RUNS_DIR": str(runs), "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(root)}
log = open(runs / "app.log", "w")
proc = subprocess.Popen(
    [sys.executable, "app.py", "--port", str(port), "--no-browser"],
    cwd=root,
    env=env,
    stdout=log,
    stderr=subprocess.STDOUT,
)
url = f"http://127.0.0.1:{port}/"
try:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_timeout(15000)
        page.screenshot(path=str(out / f"{prefix}_first_screen.png"), full_page=True)
        page.get_by_label("or a path / Hub dataset id").fill("assets/missing.jsonl")
        page.get_by_role("button", name="Load and preview").click()
        page.wait_for_timeout(5000)
        page.screenshot(path=str(out / f"{prefix}_data_refused.png"), full_page=True)
        page.get_by_role("tab", name="Train").click()
        batch = page.get_by_role("spinbutton", name="Batch size", exact=True)
        batch.fill("0")
        batch.press("Tab")
        page.get_by_role("button", name="Start training").click()
        page.wait_for_timeout(6000)
        page.screenshot(path=str(out / f"{prefix}_refused_start.png"), full_page=True)
        page.get_by_role("tab", name="Chat").click()
        page.get_by_role("button", name="Send", exact=True).click()
        page.wait_for_timeout(4000)
        page.screenshot(path=str(out / f"{prefix}_chat_empty_send.png"), full_page=True)
        b.close()
finally:
    proc.terminate()
    proc.wait(20)
