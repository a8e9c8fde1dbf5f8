"""Run accounting across segments: each start or resume of a run trains one segment of it.

    log = SegmentLog(run.path, {"device": "cpu", "precision": "fp32", "world_size": 1})
    log.begin(step=0, tokens=0)                                   # when the trainer starts
    log.update(step=5, tokens=1234, peak_memory_bytes=2**28)      # after every step
    log.end("stopped", step=5)                                    # completed, stopped or failed
    segment_totals(read_segments(run.path))   # the whole run: time, steps, tokens, peak memory

``segments.json`` holds one entry per segment with its steps, training time, tokens, peak
memory and hardware. It is rewritten (atomically) after every step, so a segment whose process
was killed still counts up to its last step; such a segment has no end and reads as
``interrupted``. The run's summary and model card add the segments up, so a resumed run
reports all the training it had, not only its last part.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

FILE = "segments.json"


def read_segments(run_dir: str | Path, last: str = "interrupted") -> list[dict]:
    """The segments in order; one without an end reads as ``interrupted`` (``last`` for the newest:
    pass the run's status, e.g. ``running`` while it trains)."""
    segments = _load(Path(run_dir) / FILE)
    for i, segment in enumerate(segments):
        if not segment.get("ended"):
            segment["ended"] = last if i == len(segments) - 1 else "interrupted"
    return segments


def _load(path: Path) -> list[dict]:
    try:
        segments = json.loads(path.read_text()).get("segments", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [s for s in segments if isinstance(s, dict)]


def segment_totals(segments: list[dict]) -> dict:
    """The run as a whole: summed time, steps and tokens, the highest peak, each hardware once."""

    def total(key: str) -> float:
        return sum(s.get(key) or 0 for s in segments)

    peaks = [s.get("peak_memory_bytes") or 0 for s in segments]
    return {
        "segments": len(segments),
        "train_seconds": round(total("train_seconds"), 2),
        "steps_trained": sum(max(0, (s.get("to_step") or 0) - (s.get("from_step") or 0)) for s in segments),
        "tokens": int(total("tokens")),
        "peak_memory_bytes": max(peaks, default=0) or None,
        "hardware": list(dict.fromkeys(describe_hardware(s) for s in segments if s.get("device"))),
    }


def segment_row(segment: dict) -> dict:
    """One start or resume of the run, as the run history shows it."""
    peak = segment.get("peak_memory_bytes")
    return {
        "segment": segment.get("segment"),
        "began": segment.get("began"),
        "ended": segment.get("ended"),
        "steps": f"{segment.get('from_step', 0)}-{segment.get('to_step', 0)}",
        "train_seconds": segment.get("train_seconds"),
        "tokens": segment.get("tokens"),
        "peak_memory_gib": round(peak / 2**30, 3) if peak else None,
        "device": describe_hardware(segment),
    }


def describe_hardware(segment: dict) -> str:
    world = segment.get("world_size") or 1
    return f"{segment.get('device')}" + (f" x {world} processes" if world > 1 else "")


class SegmentLog:
    """Writes this process's segment into the run's segments.json as it goes (main process only)."""

    def __init__(self, run_dir: str | Path, hardware: dict):
        self.path = Path(run_dir) / FILE
        self.hardware = hardware
        self._index: int | None = None
        self._began = time.monotonic()
        self._tokens0 = 0

    def _write(self, **fields) -> None:
        segments = _load(self.path)
        if self._index is None:
            self._index = len(segments)
            segments.append({})
        segments[self._index].update(fields, updated=time.time())
        tmp = self.path.with_name(f".{FILE}.tmp")
        tmp.write_text(json.dumps({"segments": segments}, indent=2))
        tmp.replace(self.path)

    def begin(self, step: int, tokens: int) -> None:
        self._began, self._tokens0 = time.monotonic(), tokens
        earlier = len(_load(self.path))
        self._write(
            segment=earlier + 1,
            began="resume" if earlier else "start",
            started=time.time(),
            pid=os.getpid(),
            from_step=step,
            to_step=step,
            train_seconds=0.0,
            tokens=0,
            peak_memory_bytes=0,
            **self.hardware,
        )

    def update(self, step: int, tokens: int | None = None, peak_memory_bytes: int | None = None, **extra) -> None:
        if self._index is None:
            return
        fields = {"to_step": step, "train_seconds": round(time.monotonic() - self._began, 2), **extra}
        if tokens is not None:
            fields["tokens"] = max(0, tokens - self._tokens0)
        if peak_memory_bytes:
            fields["peak_memory_bytes"] = peak_memory_bytes
        self._write(**fields)

    def end(self, how: str, step: int, tokens: int | None = None, peak_memory_bytes: int | None = None) -> None:
        self.update(step, tokens, peak_memory_bytes, ended=how)
