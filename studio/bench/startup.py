"""Start-up and responsiveness: app launch, model loads, and UI latency during a training."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from gradio_client import Client

from studio.bench.throughput import studio_config
from studio.config import EMBEDDED_MODEL
from studio.models import loading

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def launched_app(runs_dir: str, timeout: float = 180):
    """``python app.py`` on a free loopback port; yields (url, seconds until the page answered)."""
    port = _free_port()
    env = {**os.environ, "STUDIO_RUNS_DIR": runs_dir, "GRADIO_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--no-browser"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
            if time.perf_counter() - start > timeout:
                raise RuntimeError("app.py did not answer in time")
        yield url, time.perf_counter() - start
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def app_startup_seconds() -> float:
    with tempfile.TemporaryDirectory() as runs, launched_app(runs) as (_, seconds):
        return round(seconds, 3)


def model_load_seconds(model: str = EMBEDDED_MODEL) -> float:
    """Loading the converted model from the cache (the conversion is done beforehand)."""
    loading.resolve_model(model)
    start = time.perf_counter()
    loading.load_model(model)
    return round(time.perf_counter() - start, 3)


def conversion_seconds() -> float:
    """The first conversion of the embedded GGUF, into a fresh cache (a subprocess, so nothing is shared)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "STUDIO_CACHE_DIR": cache}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "studio", "model", "prepare"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        return round(time.perf_counter() - start, 3)


def preview_latency_during_training(model: str, dataset: str, calls: int = 20, train_steps: int = 200) -> dict:
    """p95 latency of the Data tab's preview (a light UI call) while the app trains, via gradio_client."""
    with tempfile.TemporaryDirectory() as runs, launched_app(runs) as (url, _):
        client = Client(url, verbose=False)
        config = studio_config(model, dataset, "sft", train_steps)
        client.predict(config.to_yaml(), api_name="/train_from_yaml")
        deadline = time.time() + 120
        while "<b>running" not in client.predict(api_name="/progress")[0] and time.time() < deadline:
            time.sleep(0.5)
        latencies = []
        for _ in range(calls):
            start = time.perf_counter()
            client.predict(dataset, "auto", "", "", model, 256, api_name="/load_data")
            latencies.append(time.perf_counter() - start)
        client.predict(api_name="/stop_training")
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return {
        "preview_p95_s": round(p95, 3),
        "preview_median_s": round(statistics.median(latencies), 3),
        "calls": calls,
    }
