"""Launch app.py on a free loopback port for the end-to-end and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from .conftest import ROOT, free_port


@contextmanager
def running_app(runs_dir: Path, timeout: float = 120, env: dict | None = None):
    port = free_port()
    env = {**os.environ, "STUDIO_RUNS_DIR": str(runs_dir), "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    log = open(runs_dir.parent / "app.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--no-browser"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    (runs_dir.parent / "app.pid").write_text(str(proc.pid))  # for tests that watch its memory
    url = f"http://127.0.0.1:{port}/"
    start = time.time()
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"app.py exited with {proc.returncode}: {(runs_dir.parent / 'app.log').read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() - start > timeout:
                raise RuntimeError("app.py did not answer in time")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
