"""The Trainer's running token count kept across a resume: TRL's private counter, written into each checkpoint.

    keep_token_total(trainer)   # the counter survives a resume, where TRL keeps one

TRL 1.16's trainers (SFT, DPO, KTO, reward) count the tokens they trained on in the private
attribute ``_total_train_tokens`` and log it as ``num_tokens``; no checkpoint holds it, so a resumed
run would count from 0 again. studio.patches' table holds the TRL versions this is proven on.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from studio.patches import enabled


class TokenTotal(TrainerCallback):
    """TRL's running ``num_tokens`` (SFT, DPO, KTO, reward) is a trainer attribute no checkpoint
    holds, so a resumed run would count from 0 again: it is written into each checkpoint and read
    back on resume (from the checkpoint's last log when a kill came before it was written)."""

    FILE = "studio_tokens.json"

    def __init__(self, trainer):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.global_step:
            return
        saved = Path(args.output_dir) / f"checkpoint-{state.global_step}" / self.FILE
        if saved.exists():
            self.trainer._total_train_tokens = json.loads(saved.read_text())["num_tokens"]
            return
        logged = [m["num_tokens"] for m in state.log_history if "num_tokens" in m and "loss" in m]
        if logged:
            self.trainer._total_train_tokens = int(logged[-1])

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            (folder / self.FILE).write_text(json.dumps({"num_tokens": self.trainer._total_train_tokens}))


def keep_token_total(trainer) -> bool:
    """Keep ``trainer``'s token count across a resume, where its TRL version counts one and the
    path is on (studio.patches); whether it does."""
    if not hasattr(trainer, "_total_train_tokens") or not enabled("token_total"):
        return False
    trainer.add_callback(TokenTotal(trainer))
    return True
