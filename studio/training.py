"""Build the TRL trainer for a run: no threads, no UI, one function per stage.

    plan = plan_run(config)                       # data read, rows rendered, problems listed
    trainer = build_trainer(plan, run, callbacks) # model loaded, adapter attached, TRL configured
    trainer.train()

The sharp edges of the libraries are wrapped here, once: precision from the hardware (no bf16
autocast on a CPU that only emulates it), gradient checkpointing off unless asked (TRL turns
it on), the assistant mask computed for chat templates without generation markers, and
QLoRA adapters kept in the compute dtype (TRL casts them to bf16).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

from studio import checks
from studio.adapters import build_model, keep_adapter_dtype, lora_config, record_base, trainable_parameters
from studio.config import RunConfig
from studio.data import LoadedData, load_data, split
from studio.device import DeviceInfo, detect, resolve_precision
from studio.logprobs import use_plain_logprobs
from studio.schema import ConfigError, Problem

__all__ = ["Plan", "build_model", "build_trainer", "lora_config", "plan_run", "trainable_parameters"]

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """Everything decided before a model is loaded."""

    config: RunConfig
    device: DeviceInfo
    precision: str
    tokenizer: object
    data: LoadedData
    train: checks.Preflight
    val: checks.Preflight | None
    problems: list[Problem] = field(default_factory=list)
    val_data: LoadedData | None = None  # the separate validation file, when data.val_dataset names one

    @property
    def world_size(self) -> int:
        return world_size(self.device)

    @property
    def effective_batch(self) -> int:
        t = self.config.train
        return t.batch_size * t.grad_accum * self.world_size

    @property
    def total_steps(self) -> int:
        return planned_steps(len(self.train.examples), self.config, self.world_size)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def world_size(device: DeviceInfo) -> int:
    """Processes (accelerate launch / torchrun), else the GPUs one process drives (DataParallel)."""
    launched = int(os.environ.get("WORLD_SIZE", "0") or 0)
    if launched:
        return launched
    return max(1, device.count) if device.kind == "cuda" else 1


def planned_steps(rows: int, config: RunConfig, world_size: int = 1) -> int:
    """Optimizer steps: max_steps if set, else ceil(rows / effective batch) x epochs."""
    t = config.train
    if t.max_steps > 0:
        return t.max_steps
    per_epoch = math.ceil(rows / (t.batch_size * t.grad_accum * world_size)) if rows else 0
    return math.ceil(per_epoch * t.epochs)


def load_validation(d, train_kind: str) -> LoadedData:
    """The separate validation file of ``d`` (a DataConfig), read like the training data; it must
    hold the same kind of rows (chat, text or preference). Raises ConfigError naming val_dataset."""
    from studio.data import DataError

    try:
        val = load_data(d.val_dataset.strip(), d.format, d.columns, d.system_prompt)
    except DataError as exc:
        raise ConfigError([Problem("val_dataset", str(exc))]) from None
    if val.kind != train_kind:
        raise ConfigError(
            [
                Problem(
                    "val_dataset",
                    f"{d.val_dataset} holds {val.kind} rows ({val.format}) but {d.dataset} holds {train_kind} rows: "
                    "give a validation file in the training data's format",
                )
            ]
        )
    return val


def plan_run(config: RunConfig, device: DeviceInfo | None = None, data: LoadedData | None = None) -> Plan:
    """Validate the config, read and render the data; raises ConfigError listing every blocking problem."""
    device = device or detect()
    problems = checks.validate(config, device.kind)
    if any(p.level == "error" for p in problems):
        raise ConfigError([p for p in problems if p.level == "error"])
    precision = resolve_precision(config.model.precision, device)
    from studio import models

    tokenizer = models.load_tokenizer(config.model.model)
    d, t = config.data, config.train
    if data is None:
        data = load_data(d.dataset, d.format, d.columns, d.system_prompt, d.max_rows)
    if data.skipped:
        problems.append(
            Problem("dataset", f"{len(data.skipped)} rows skipped: " + "; ".join(map(str, data.skipped[:5])), "warning")
        )
    blocking = checks.template_problems(tokenizer, config, data.kind, data.format)
    if blocking:
        raise ConfigError(blocking)
    numbered = list(zip(data.rows, data.row_numbers, strict=True))
    val_data = None
    if d.val_dataset.strip():
        val_data = load_validation(d, data.kind)
        train_rows, val_rows = numbered, list(zip(val_data.rows, val_data.row_numbers, strict=True))
    else:
        train_rows, val_rows = split(numbered, d.val_fraction, t.seed)

    def run_preflight(pairs):
        rows = [r for r, _ in pairs]
        numbers = [n for _, n in pairs]
        if t.method == "dpo":
            return checks.preflight_dpo(tokenizer, rows, numbers, t.max_length)
        return checks.preflight_sft(tokenizer, rows, numbers, t.max_length, t.assistant_only_loss)

    train = run_preflight(train_rows)
    val = run_preflight(val_rows) if val_rows else None
    problems += train.problems
    if any(p.level == "error" for p in problems):
        raise ConfigError([p for p in problems if p.level == "error"])
    return Plan(config, device, precision, tokenizer, data, train, val, problems, val_data)


# -- trainer -------------------------------------------------------------------------------------


def _common_args(plan: Plan, output_dir: str) -> dict:
    t = plan.config.train
    has_val = plan.val is not None and bool(plan.val.examples)
    evaluate = t.eval_steps > 0 and has_val
    save_steps = t.save_steps
    if t.early_stopping_patience and evaluate:
        # The best checkpoint can only be restored if saves land on evaluations.
        save_steps = t.eval_steps * max(1, round(save_steps / t.eval_steps)) if save_steps else t.eval_steps
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
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    return args


def _sft_trainer(plan: Plan, model, args: dict, callbacks: list):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    t = plan.config.train
    padding_free = t.padding_free or t.packing  # TRL's bfd packing is padding-free too
    sft_args = SFTConfig(
        **args,
        # Rows arrive tokenized and truncated (studio.data.render); TRL only truncates when packing.
        max_length=t.max_length if t.packing else None,
        packing=t.packing,
        padding_free=padding_free,
        include_num_input_tokens_seen="all" if padding_free else "non_padding",
        completion_only_loss=False,
        dataset_num_proc=None,
    )
    train = Dataset.from_list(plan.train.examples)
    val = (
        Dataset.from_list(plan.val.examples)
        if plan.val and plan.val.examples and args["eval_strategy"] != "no"
        else None
    )
    return SFTTrainer(
        model=model,
        args=sft_args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=plan.tokenizer,
        callbacks=callbacks,
    )


def _dpo_trainer(plan: Plan, model, args: dict, callbacks: list):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    t, dpo = plan.config.train, plan.config.dpo
    dpo_args = DPOConfig(
        **args,
        max_length=t.max_length,
        beta=dpo.beta,
        loss_type=[dpo.dpo_loss],
        label_smoothing=dpo.dpo_label_smoothing,
        include_num_input_tokens_seen="non_padding",
    )
    train = Dataset.from_list(plan.train.examples)
    val = (
        Dataset.from_list(plan.val.examples)
        if plan.val and plan.val.examples and args["eval_strategy"] != "no"
        else None
    )
    # The adapter is attached by TRL from peft_config: given an already wrapped PeftModel, TRL 1.16
    # copies the adapter into a second "ref" adapter; given the base, the reference is the base
    # itself with the adapter disabled (no second copy in memory or in the saved adapter).
    # Full DPO has no adapter to disable: TRL loads a frozen reference copy of the model.
    peft_config = lora_config(plan.config) if plan.config.adapter.adapter != "full" else None
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=dpo_args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=plan.tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )
    if peft_config is not None:
        record_base(trainer.model, plan.config)
    elif trainer.ref_model is not None:
        trainer.ref_model.requires_grad_(False)  # TRL only calls it under no_grad; say so to autograd too
        trainer.ref_model.eval()
    return trainer


def build_trainer(plan: Plan, output_dir: str, callbacks: list | None = None, model=None):
    """The configured SFTTrainer or DPOTrainer, ready for ``.train()``.

    ``model``, when given, is what ``build_model(plan)`` returns for SFT, or the bare base
    (``attach_adapter=False``) for DPO.
    """
    from transformers.trainer_callback import PrinterCallback

    callbacks = list(callbacks or [])
    t = plan.config.train
    if t.early_stopping_patience and t.eval_steps and plan.val and plan.val.examples:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    dpo = t.method == "dpo"
    use_plain_logprobs(plan.device.kind)  # TRL's chunked log-prob kernel is slow without Triton
    model = model if model is not None else build_model(plan, attach_adapter=not dpo)
    args = _common_args(plan, output_dir)
    trainer = (_dpo_trainer if dpo else _sft_trainer)(plan, model, args, callbacks)
    trainer.remove_callback(PrinterCallback)  # progress goes through MetricsCallback instead
    if plan.config.adapter.adapter == "qlora":
        keep_adapter_dtype(trainer.model, plan.precision)
    return trainer
