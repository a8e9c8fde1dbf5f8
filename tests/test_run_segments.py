"""Run accounting across segments: a stopped or killed run that was resumed reports all of its
training (time, steps, tokens, peak memory, hardware) in summary.json, the run history and the
model card, not only its last part (issue 12)."""

import json

import pytest

from studio.export.card import render
from studio.runs.segments import SegmentLog, read_segments, segment_totals
from studio.train.jobs.manager import JobManager

from .conftest import start_and_stop


def test_segment_log_counts_a_killed_segment_up_to_its_last_write(tmp_path):
    first = SegmentLog(tmp_path, {"device": "cpu", "precision": "fp32", "world_size": 1})
    first.begin(step=0, tokens=0)
    first.update(step=4, tokens=800, peak_memory_bytes=3 * 2**30)  # then SIGKILL: no end is written
    second = SegmentLog(tmp_path, {"device": "cuda:0 (H200)", "precision": "bf16", "world_size": 2})
    second.begin(step=3, tokens=600)
    second.end("completed", step=10, tokens=2000, peak_memory_bytes=2**30)
    segments = read_segments(tmp_path)
    assert [(s["segment"], s["began"], s["ended"]) for s in segments] == [
        (1, "start", "interrupted"),
        (2, "resume", "completed"),
    ]
    assert [(s["from_step"], s["to_step"], s["tokens"]) for s in segments] == [(0, 4, 800), (3, 10, 1400)]
    totals = segment_totals(segments)
    assert totals["segments"] == 2 and totals["tokens"] == 2200 and totals["steps_trained"] == 11
    assert totals["peak_memory_bytes"] == 3 * 2**30  # the highest, not the last
    assert totals["hardware"] == ["cpu", "cuda:0 (H200) x 2 processes"]
    assert read_segments(tmp_path / "nowhere") == []


def check_accounting(run, ends: list[str]) -> list[dict]:
    """summary.json, the run history and the card all count every segment."""
    segments = read_segments(run.path)
    assert [s["ended"] for s in segments] == ends
    assert [s["began"] for s in segments] == ["start"] + ["resume"] * (len(ends) - 1)
    assert all(s["train_seconds"] > 0 and s["tokens"] > 0 and s["device"] for s in segments)
    total = sum(s["train_seconds"] for s in segments)
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["train_seconds"] == pytest.approx(total, abs=0.02)  # was the last segment's alone
    assert summary["train_seconds"] > segments[-1]["train_seconds"]
    assert summary["tokens"] == sum(s["tokens"] for s in segments) and summary["segments"] == len(ends)
    assert summary["peak_memory_bytes"] >= max(s["peak_memory_bytes"] for s in segments)
    row = run.summary()
    assert row["train_seconds"] == pytest.approx(total, abs=0.02) and len(row["segments"]) == len(ends)
    assert [r["ended"] for r in row["segments"]] == ends
    card = render(run)
    minutes, seconds = divmod(int(round(total)), 60)
    assert f"| training time | {minutes}m {seconds}s in {len(ends)} segments (see below) |" in card
    assert "## Training segments" in card and f"| {ends[0]} |" in card
    assert f"| tokens trained | {summary['tokens']:,} |" in card
    return segments


def test_stop_then_resume_counts_both_segments(tiny_config, runs_dir):
    tiny_config.train.max_steps = 8
    tiny_config.train.batch_size = 2
    jobs = JobManager()
    run, stopped = start_and_stop(jobs, tiny_config)
    first = read_segments(run.path)
    assert len(first) == 1 and first[0]["ended"] == "stopped" and first[0]["to_step"] == stopped.step

    jobs.start(None, resume=run.path)
    resumed = jobs.snapshot()  # at once: the elapsed time goes on from the first segment's, not from 0
    assert resumed.elapsed_s >= first[0]["train_seconds"]
    done = jobs.wait(120)
    assert done.status == "completed"
    segments = check_accounting(run, ["stopped", "completed"])
    assert (segments[1]["from_step"], segments[1]["to_step"]) == (stopped.step, 8)
    assert done.elapsed_s >= sum(s["train_seconds"] for s in segments)
    times = [m["time"] for m in run.metrics() if "time" in m]  # the curve's clock does not jump back either
    assert times == sorted(times) and len(times) >= 8


# A SIGKILLed segment's accounting after a resume: tests/test_runs.py, on the SIGKILLed run it
# trains anyway (one killed training in CI instead of two).
