"""Probe prompts: pinned questions the model answers at each evaluation, beside the base's answers.

    probes:
      probe_prompts: |
        Who are you?
        What is the capital of France?

Before the first step the base answers (the adapter disabled; for full fine-tuning, the
untouched model); at each evaluation and at the end the current model answers, greedy, so two
answers differ only because the weights changed. Every answer is appended to the run's
``probes.jsonl`` ({"step", "prompt", "answer"}; step 0 is the base), so the change can be read
while it happens and after a restart. Each answering is a ``probing`` round of the progress
snapshot, so the status line says so, the watchdog does not take it for a hang, and the ETA
counts the rounds still to come.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import torch
from transformers import TrainerCallback

from studio.runs.metrics import read_probes
from studio.train.callbacks import round_steps
from studio.train.jobs.progress import Tracker

log = logging.getLogger(__name__)


@torch.no_grad()
def answer(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy answers to each prompt under the chat template, one left-padded batch."""
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    was_training = model.training
    model.eval()
    try:
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            use_cache=True,
            pad_token_id=tokenizer.pad_token_id,
        )
    finally:
        model.train(was_training)
    new = out[:, batch["input_ids"].shape[1] :]
    return [tokenizer.decode(row, skip_special_tokens=True) for row in new]


def sharded(args) -> bool:
    """Whether the weights are sharded across processes (FSDP or DeepSpeed)."""
    env = ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED")
    flagged = any(os.environ.get(k, "").lower() in ("1", "true") for k in env)
    return flagged or bool(getattr(args, "fsdp", None)) or bool(getattr(args, "deepspeed", None))


class ProbeCallback(TrainerCallback):
    """Answers the pinned prompts before training (base) and at each evaluation and the end."""

    def __init__(self, tokenizer, prompts: list[str], path: Path, tracker: Tracker, max_new_tokens: int = 48):
        self.tokenizer = tokenizer
        self.prompts = prompts
        self.path = Path(path)
        self.tracker = tracker
        self.max_new_tokens = max_new_tokens
        self._last_step = -1

    def _record(self, model, step: int, base: bool = False, then: str = "training") -> None:
        self.tracker.activity("probing")
        context = model.disable_adapter() if base and hasattr(model, "disable_adapter") else contextlib.nullcontext()
        with context:
            answers = answer(model, self.tokenizer, self.prompts, self.max_new_tokens)
        records = [{"step": step, "prompt": q, "answer": a} for q, a in zip(self.prompts, answers, strict=True)]
        with open(self.path, "a") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in records))
        self.tracker.add_probes(records)
        self.tracker.activity(then)
        self._last_step = step

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if sharded(args):
            # Generating on one process would wait forever for the other shards' weights.
            self.prompts = []
            self.tracker.warn("probe prompts are off under FSDP/DeepSpeed (the weights are sharded)")
        if not state.is_world_process_zero or model is None or not self.prompts:
            return
        evaluations = round_steps(args.eval_strategy, state.eval_steps, state.max_steps)
        self.tracker.schedule("probing", [*evaluations, state.max_steps])
        if not any(r["step"] == 0 for r in read_probes(self.path)):
            self._record(model, 0, base=True)
        self.tracker.update(probes=[r for r in read_probes(self.path) if r["step"] <= state.global_step])

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if not self.prompts:
            return
        if state.is_world_process_zero and model is not None and state.global_step != self._last_step:
            self._record(model, state.global_step, then="saving" if control.should_save else "training")

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if (
            self.prompts
            and state.is_world_process_zero
            and model is not None
            and state.global_step not in (self._last_step, 0)
        ):
            self._record(model, state.global_step)
