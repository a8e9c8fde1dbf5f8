"""What a run writes to disk, and how much more a full disk needs: from the memory estimate's counts.

    need = disk_need(est, config, plan.total_steps)   # one checkpoint x kept at once + the final adapter
    free_bytes(runs_folder)                          # what shutil.disk_usage says is free there
    to_free(run, free_bytes(run.path))               # after a full disk: how much more resuming needs

A checkpoint holds the trainable weights (the adapter, or the whole model for a full fine-tune, in
the dtype it trains in, as ``studio.train.estimate`` counts them), the optimizer's state (the
estimate's optimizer bytes) and the tokenizer. The Trainer writes a new checkpoint before it
deletes the oldest, so ``save_total_limit + 1`` of them lie on disk at the peak (fewer when the
run saves fewer times). Then the final adapter or model is written beside them.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from studio.config import RunConfig
from studio.runs.directory import Run

GIB, MIB = 2**30, 2**20
# tokenizer.json takes about 70-130 bytes a vocabulary entry (SmolLM2 49k: 3.5 MB, Llama 3 128k: 9 MB,
# Gemma 3 262k: 33 MB); the rest (tokenizer_config, trainer_state, rng, scheduler, card) under 1 MiB.
TOKENIZER_BYTES_PER_ENTRY = 128
FILES_BYTES = MIB
UNKNOWN_TOKENIZER_BYTES = 16 * MIB


@dataclass
class DiskNeed:
    checkpoint_bytes: int  # one checkpoint
    checkpoints: int  # on disk at once at the peak
    final_bytes: int  # the adapter (or model) saved at the end
    final: str = "adapter"  # or "model" (a full fine-tune)

    @property
    def total_bytes(self) -> int:
        return self.checkpoint_bytes * self.checkpoints + self.final_bytes

    def describe(self) -> str:
        what = "checkpoint" if self.checkpoints == 1 else "checkpoints"
        return (
            f"{self.checkpoints} {what} of {size(self.checkpoint_bytes)} at once "
            f"+ the final {self.final} of {size(self.final_bytes)} = {size(self.total_bytes)}"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "total_bytes": self.total_bytes}


def size(n: int | float) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


def weight_bytes(est) -> int:
    """Bytes of the trained weights as saved: fp32 for LoRA and full fine-tuning, bf16 for QLoRA under
    half precision (the dtype TRL keeps its adapter in; ``studio.train.estimate.memory_parts``)."""
    per = 2 if est.adapter == "qlora" and est.precision != "fp32" else 4
    return est.trainable_params * per


def saves(config: RunConfig, total_steps: int) -> int:
    """Checkpoints a run writes: every save_steps and at the end; with save_steps 0, Stop's one."""
    every = config.train.save_steps
    return max(1, math.ceil(total_steps / every)) if every and total_steps else 1


def disk_need(est, config: RunConfig, total_steps: int, vocab: int | None = None) -> DiskNeed:
    """The disk a run takes at its peak, from the memory Estimate (parameter counts, optimizer bytes);
    ``vocab``: the tokenizer's size, for the copy of it each checkpoint and the adapter carry."""
    weights = weight_bytes(est)
    files = FILES_BYTES + (vocab * TOKENIZER_BYTES_PER_ENTRY if vocab else UNKNOWN_TOKENIZER_BYTES)
    checkpoint = weights + est.memory_bytes.get("optimizer", 0) + files
    kept = min(saves(config, total_steps), config.train.save_total_limit + 1)
    return DiskNeed(checkpoint, kept, weights + files, "model" if est.adapter == "full" else "adapter")


def free_bytes(folder: Path) -> int | None:
    """Free bytes on the disk holding ``folder`` (its nearest existing parent); None if unreadable."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def written_bytes(run: Run) -> int:
    """What the run's complete checkpoints already take (they count among those kept)."""
    return sum(folder_bytes(c) for c in run.checkpoints())


def to_free(run: Run, free: int | None) -> int | None:
    """How many more bytes the run needs to finish, beyond ``free``: from the need recorded at its
    start (estimate.json), less its checkpoints on disk; at least one checkpoint. None: unknown."""
    recorded = run.read_json("estimate.json").get("disk") or {}
    last = run.last_checkpoint()
    one = recorded.get("checkpoint_bytes") or (folder_bytes(last) if last else 0)
    if not one or free is None:
        return None
    need = recorded.get("total_bytes", one + recorded.get("final_bytes", one)) - written_bytes(run)
    return max(need - free, one)
