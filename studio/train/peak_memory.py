"""Measured peak memory of training, to stand next to the estimate.

    python -m studio estimate --model smollm2-135m-instruct --adapter lora --measure --json
    compare_estimates("smollm2-135m-instruct")   # lora, qlora and full, each in a fresh process

What is measured is the peak the process reaches, its baseline included (the Python process and
the libraries, what it held before the model): on a GPU the allocator's peak
(``torch.cuda.max_memory_allocated``) since the reset; on a CPU the peak resident set size since
the reset (Linux ``/proc/self/clear_refs``; a sampling thread where that is refused). That is
what the machine must have, and what the estimate (``studio.train.estimate``) predicts: runtime,
weights, gradients, optimizer states and activations. ``baseline`` keeps the size before the model.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from studio.config import EMBEDDED_MODEL
from studio.models.device import current_rss_bytes
from studio.train.estimate import plan_estimate
from studio.train.plan import plan_run
from studio.train.trainer import build_trainer

log = logging.getLogger(__name__)


def _vm_hwm() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory:
    """The process's peak memory: ``start()`` notes the baseline (before the model is loaded),
    ``reset()`` forgets the peaks so far (loading reads the checkpoint file, which is not training
    memory; the peak restarts from the present size, model included), ``peak()`` reads the
    highest point since."""

    def __init__(self):
        self.baseline = 0
        self._sampled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cuda = False

    def start(self) -> PeakMemory:
        self._cuda = torch.cuda.is_available()
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.baseline = torch.cuda.memory_allocated()
            return self
        self.baseline = current_rss_bytes()
        if not self.reset():
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def reset(self) -> bool:
        """Start the peak from the present; False where the platform cannot (then sampling goes on)."""
        if self._cuda:
            torch.cuda.reset_peak_memory_stats()
            return True
        self._sampled = current_rss_bytes()
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            return True
        except OSError:
            return False

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._sampled = max(self._sampled, current_rss_bytes())

    def peak(self) -> int:
        """Bytes the process held at its highest point so far (the baseline included)."""
        if self._cuda:
            return int(torch.cuda.max_memory_allocated())
        if self._thread is not None:
            return max(self._sampled, current_rss_bytes())
        return _vm_hwm()

    def stop(self) -> int:
        self._stop.set()
        return self.peak()


@dataclass
class MemoryCheck:
    model: str
    adapter: str
    estimated_bytes: int
    measured_bytes: int
    parts: dict
    method: str = "sft"

    @property
    def ratio(self) -> float:
        return self.estimated_bytes / self.measured_bytes if self.measured_bytes else float("nan")

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "adapter": self.adapter,
            "method": self.method,
            "estimated_bytes": self.estimated_bytes,
            "measured_bytes": self.measured_bytes,
            "ratio": round(self.ratio, 3),
            "error_pct": round(100 * (self.ratio - 1), 1),
            "parts": self.parts,
        }


def measure(config, steps: int = 3) -> MemoryCheck:
    """Train ``steps`` steps of ``config`` here and return the process's peak next to the estimate.

    Run it in a fresh process (``compare_estimates`` does) so nothing else inflates the peak. The
    run is planned as the studio plans it, so the estimate is the one admission and the status
    line use (``plan_estimate``: the longest example of the data, not max_length).
    """
    config.train.max_steps = steps
    config.train.save_steps = 0
    config.train.eval_steps = 0
    plan = plan_run(config)
    est = plan_estimate(plan)
    peak = PeakMemory().start()
    with tempfile.TemporaryDirectory(prefix="studio-measure-") as out:
        trainer = build_trainer(plan, out)
        peak.reset()
        trainer.train()
        measured = peak.stop()
    return MemoryCheck(
        config.model.model, config.adapter.adapter, est.total_bytes, measured, est.memory_bytes, config.train.method
    )


def compare_estimates(
    model: str = EMBEDDED_MODEL,
    adapters: tuple[str, ...] = ("lora", "qlora", "full"),
    steps: int = 3,
    extra_args: list[str] | None = None,
) -> list[dict]:
    """Estimate vs measured peak for each adapter, each measured in a fresh process."""
    out = []
    for adapter in adapters:
        cmd = [sys.executable, "-m", "studio", "estimate", "--model", model, "--adapter", adapter]
        cmd += ["--measure", "--steps", str(steps), "--json", *(extra_args or [])]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"measuring {adapter} failed: {result.stderr.strip()[-800:]}")
        out.append(json.loads(result.stdout)["measured"])
    return out
