"""A bounded load test on loopback (issue 13): four signed-in people chat while one of them
trains and another's Start waits in the queue.

20 chat requests (4 people x 5 turns, 16 new tokens each, the tiny model) go through app.py's
``/chat`` at once from four threads, while a training runs in the same process. The test asserts
what must hold (no request fails, every reply is text, the training keeps stepping, the queued
Start says its place and starts when the first ends) and writes the figures (p50/p95 latency,
errors, steps trained meanwhile, the app's memory high-water mark) to $STUDIO_LOAD_REPORT (default:
the test's tmp folder) and the test log. Timings are reported, never asserted.
"""

import json
import os
import statistics
import threading
import time
from pathlib import Path

import pytest

from .apphost import running_app
from .test_people_e2e import form, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.heavy]
PEOPLE, TURNS = 4, 5
SAMPLING = [1.0, 50, 1.0, 1.0, 16, 0, True]  # temperature, top_k, top_p, repetition, max_new_tokens, seed, greedy


def step_of(client) -> int:
    status, *_ = client.predict(api_name="/progress")
    marker = status.split("step ", 1)[1] if "step " in status else "0/"
    return int(marker.split("/", 1)[0]) if marker.split("/", 1)[0].isdigit() else 0


def high_water(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def chat_turns(client, person: int, latencies: list, errors: list, replies: list) -> None:
    for turn in range(TURNS):
        began = time.perf_counter()
        try:
            base, _ = client.predict(
                f"Person {person}, turn {turn}: name a colour.", "", "", *SAMPLING, api_name="/chat"
            )
            replies.append(base)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            errors.append(f"person {person} turn {turn}: {exc}")
        latencies.append(time.perf_counter() - began)


def test_four_people_chat_while_one_trains_and_one_waits(tiny_model_dir, tmp_path, monkeypatch):
    from gradio_client import Client

    monkeypatch.setenv("STUDIO_AUTH", ",".join(f"p{i}:pw-{i}" for i in range(PEOPLE)))
    monkeypatch.delenv("STUDIO_QUEUE_PER_PERSON", raising=False)
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url:
        pid = int((tmp_path / "app.pid").read_text())
        people = [Client(url, verbose=False, auth=(f"p{i}", f"pw-{i}")) for i in range(PEOPLE)]
        trainer, waiter = people[0], people[1]
        trainer.predict(*form(trainer, tiny_model_dir, max_steps=2000), api_name="/start_training")
        wait_for(trainer, "<b>running</b>")
        *_, message = waiter.predict(*form(waiter, tiny_model_dir, max_steps=2), api_name="/start_training")
        assert "queued: 1st in line" in message

        latencies, errors, replies = [], [], []
        first_step, began = step_of(trainer), time.perf_counter()
        threads = [
            threading.Thread(target=chat_turns, args=(c, i, latencies, errors, replies)) for i, c in enumerate(people)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        window = time.perf_counter() - began
        last_step = step_of(trainer)
        assert "queued: 1st in line" in wait_for(waiter, "queued")  # still waiting, and says where

        trainer.predict(api_name="/stop_training")
        wait_for(waiter, "<b>completed</b>")  # the waiting Start ran by itself once the first ended
        memory = high_water(pid)

    ordered = sorted(latencies)
    report = {
        "requests": len(latencies),
        "errors": len(errors),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 3),
        "max_s": round(ordered[-1], 3),
        "window_s": round(window, 1),
        "training_steps_meanwhile": last_step - first_step,
        "app_memory_high_water_mib": round(memory / 2**20),
    }
    out = Path(os.environ.get("STUDIO_LOAD_REPORT", tmp_path / "load.json"))
    out.write_text(json.dumps(report, indent=2))
    print("load test:", json.dumps(report))
    assert errors == [] and len(replies) == PEOPLE * TURNS, errors
    assert all(isinstance(r, str) and r for r in replies)
    assert last_step > first_step  # the training kept stepping while everyone chatted
