"""Build the TRL trainer for a run: no threads, no UI, one function per method.

    plan = plan_run(config)                       # studio.train.plan
    trainer = build_trainer(plan, run, callbacks) # model loaded, adapter attached, TRL configured
    trainer.train()

The sharp edges of the libraries are wrapped here, once: precision from the hardware (no bf16
autocast on a CPU that only emulates it), gradient checkpointing off unless asked (TRL turns
it on), the assistant mask computed for chat templates without generation markers, and
QLoRA adapters kept in the compute dtype (TRL casts them to bf16). Each method's trainer is one
module in studio.train.methods.
"""

from __future__ import annotations

import math
from pathlib import Path

from transformers import EarlyStoppingCallback
from transformers.trainer_callback import PrinterCallback

from studio.patches.fused_lora import fuse_lora
from studio.patches.logprobs import use_plain_logprobs
from studio.patches.tokens import keep_token_total
from studio.patches.unpadded import unpad_batches
from studio.train import trackers
from studio.train.methods import dpo, grpo, kto, orpo, reward, sft
from studio.train.model import build_model, keep_adapter_dtype
from studio.train.plan import Plan, generation_cycle

# The builder of each row of the method table, by its name.
MODULES = {module.__name__.rsplit(".", 1)[1]: module for module in (sft, dpo, orpo, kto, reward, grpo)}


def _save_every(plan: Plan, evaluate: bool) -> int:
    """save_steps, moved to where a checkpoint serves: onto evaluations when the best one is
    restored (early stopping), and to the end of a GRPO generation cycle (plan.generation_cycle)."""
    t = plan.config.train
    save_steps = t.save_steps
    aligned = t.early_stopping_patience and evaluate
    if aligned:  # the best checkpoint can only be restored if saves land on evaluations
        save_steps = t.eval_steps * max(1, round(save_steps / t.eval_steps)) if save_steps else t.eval_steps
    cycle = generation_cycle(plan.config)
    if save_steps and cycle > 1:
        unit = math.lcm(cycle, t.eval_steps) if aligned else cycle
        save_steps = unit * math.ceil(save_steps / unit)
    return save_steps


def _common_args(plan: Plan, output_dir: str) -> dict:
    t = plan.config.train
    has_val = plan.val is not None and bool(plan.val.examples)
    evaluate = t.eval_steps > 0 and has_val
    save_steps = _save_every(plan, evaluate)
    args = dict(
        output_dir=output_dir,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.scheduler,
        # A ratio is turned into steps here: transformers reads warmup_steps >= 1 as a count.
        warmup_steps=math.ceil(plan.total_steps * t.warmup_ratio) if t.warmup_ratio else 0,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim=t.optim,
        seed=t.seed,
        data_seed=t.seed,
        bf16=plan.precision == "bf16",
        fp16=plan.precision == "fp16",
        use_cpu=plan.device.kind == "cpu",
        gradient_checkpointing=t.gradient_checkpointing,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,  # the default hides a NaN loss behind the running mean
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=t.save_total_limit,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=t.eval_steps if evaluate else None,
        load_best_model_at_end=bool(t.early_stopping_patience and evaluate),
        metric_for_best_model="eval_loss",
        # The run directory is the checkpoints folder's parent; the tracker's files go inside it.
        report_to=trackers.prepare(t.report_to, Path(output_dir).parent),
        run_name=Path(output_dir).parent.name,  # the run id, as the tracker's run
        project=trackers.PROJECT,  # Trackio's project (the others take theirs from the environment)
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    return args


def build_trainer(plan: Plan, output_dir: str, callbacks: list | None = None, model=None):
    """The configured TRL trainer of the run's method, ready for ``.train()``.

    ``model``, when given, is what ``build_model(plan)`` returns for SFT, the bare base
    (``attach_adapter=False``) for the other methods, or the score model for a reward model.
    """
    callbacks = list(callbacks or [])
    t = plan.config.train
    if t.early_stopping_patience and t.eval_steps and plan.val and plan.val.examples:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    use_plain_logprobs(plan.device.kind)  # TRL's chunked log-prob kernel is slow without Triton
    method = MODULES[t.method]
    if model is None:  # every method but SFT gets the bare base and lets TRL attach the adapter (peft_config)
        loader = getattr(method, "load_model", None)
        model = loader(plan) if loader else build_model(plan, attach_adapter=t.method == "sft")
    args = _common_args(plan, output_dir)
    trainer = method.build(plan, model, args, callbacks)
    trainer.remove_callback(PrinterCallback)  # progress goes through MetricsCallback instead
    keep_token_total(trainer)
    if plan.config.adapter.adapter == "qlora":
        keep_adapter_dtype(trainer.model, plan.precision)
    if plan.device.kind == "cpu":  # one product per LoRA layer where it is the same computation
        fuse_lora(trainer.model)
        for net in (trainer.model, getattr(trainer, "ref_model", None)):  # padded batches: real tokens only
            if net is not None:
                unpad_batches(net)
    return trainer
