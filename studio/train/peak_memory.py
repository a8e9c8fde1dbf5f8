"""Measured peak memory of training, to stand next to the estimate.

    python -m studio estimate --model smollm2-135m-instruct --adapter lora --measure --json
    compare_estimates("smollm2-135m-instruct")   # lora, qlora and full, each in a fresh process

What is measured is the memory training adds to the process: on a GPU the allocator's peak
(``torch.cuda.max_memory_allocated``) since the reset; on a CPU the peak resident set size
since the reset (Linux ``/proc/self/clear_refs``; a sampling thread where that is refused)
minus the resident size before the model was loaded. The estimate counts the same things
(weights, gradients, optimizer states, activations), not the runtime itself.
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

from studio.config import EMBEDDED_MODEL
from studio.models.device import current_rss_bytes
from studio.train.estimate import estimate
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
    """The peak memory above a baseline: ``start()`` takes the baseline (before the model is
    loaded), ``reset()`` forgets the peaks so far (loading reads the checkpoint file, which is
    not training memory), ``peak()`` reads the highest point since."""

    def __init__(self):
        self.baseline = 0
        self._sampled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cuda = False

    def start(self) -> PeakMemory:
        import torch

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
            import torch

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
        """Bytes above the baseline at the highest point so far."""
        if self._cuda:
            import torch

            return int(torch.cuda.max_memory_allocated()) - self.baseline
        if self._thread is not None:
            return max(self._sampled, current_rss_bytes()) - self.baseline
        return _vm_hwm() - self.baseline

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

    @property
    def ratio(self) -> float:
        return self.estimated_bytes / self.measured_bytes if self.measured_bytes else float("nan")

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "adapter": self.adapter,
            "estimated_bytes": self.estimated_bytes,
            "measured_bytes": self.measured_bytes,
            "ratio": round(self.ratio, 3),
            "error_pct": round(100 * (self.ratio - 1), 1),
            "parts": self.parts,
        }


def measure(config, steps: int = 3) -> MemoryCheck:
    """Train ``steps`` steps of ``config`` here and return its peak next to the estimate.

    Run it in a fresh process (``compare_estimates`` does) so nothing else inflates the peak.
    The micro-batches are packed to max_length and every token is learned from (the prompts too),
    the case the estimate's allowance is for: on a CPU the output head projects only the labelled
    tokens (studio.fastpaths.logprobs), and the allowance counts them all.
    """
    import datasets  # noqa: F401 - imported before the baseline so their code is not counted
    import peft  # noqa: F401
    import trl  # noqa: F401

    config.train.max_steps = steps
    config.train.save_steps = 0
    config.train.eval_steps = 0
    config.train.packing = config.train.method == "sft"
    config.train.assistant_only_loss = False
    est = estimate(config)
    plan = plan_run(config)
    peak = PeakMemory().start()
    with tempfile.TemporaryDirectory(prefix="studio-measure-") as out:
        trainer = build_trainer(plan, out)
        peak.reset()
        trainer.train()
        measured = peak.stop()
    return MemoryCheck(config.model.model, config.adapter.adapter, est.total_bytes, measured, est.memory_bytes)


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
