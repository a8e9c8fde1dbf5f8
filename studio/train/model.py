"""The model a run trains: the base (4-bit NF4 for QLoRA) with a LoRA adapter, or every weight.

    model = build_model(plan)                       # PeftModel for lora/qlora, the model for full
    base = build_model(plan, attach_adapter=False)  # DPO: TRL attaches the adapter itself
    trainable_parameters(model)                     # (trainable, total), counted as PEFT counts

Precision: LoRA keeps the frozen base in the compute dtype (PEFT keeps the adapter in fp32);
QLoRA quantizes the decoder's Linear layers to NF4 with double quantization and a compute dtype;
full fine-tuning keeps fp32 master weights under bf16/fp16 autocast.
"""

from __future__ import annotations

import logging
import os

import torch
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, set_seed

from studio.config import TARGET_PRESETS, RunConfig
from studio.models import loading
from studio.models.device import resolve_precision, torch_dtype
from studio.patches.packed_attention import use_packed_attention
from studio.schema import ConfigError
from studio.train import checks

log = logging.getLogger(__name__)


def lora_config(config: RunConfig):
    a = config.adapter
    return LoraConfig(
        r=a.lora_r,
        lora_alpha=a.lora_alpha,
        lora_dropout=a.lora_dropout,
        target_modules=target_modules_value(a.target_modules),
        use_rslora=a.use_rslora,
        use_dora=a.use_dora,
        bias="none",
        task_type="CAUSAL_LM",
    )


def target_modules_value(spec: str) -> list[str] | str:
    """The PEFT ``target_modules`` value for a preset name or a comma list."""
    spec = spec.strip()
    if spec in TARGET_PRESETS:
        return TARGET_PRESETS[spec]
    return [m.strip() for m in spec.split(",") if m.strip()]


def compute_precision(plan) -> str:
    """QLoRA's compute dtype: its own setting, or the run's precision."""
    a = plan.config.adapter
    return resolve_precision(a.compute_dtype, plan.device) if a.compute_dtype != "auto" else plan.precision


def _load_4bit(name: str, dtype: torch.dtype, device_kind: str):
    """The base as 4-bit NF4 (double quantization), on this process's GPU under a distributed launch."""
    kwargs = {"dtype": dtype, "attn_implementation": "sdpa", "quantization_config": loading.quantization_config(dtype)}
    if device_kind == "cuda":
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    try:
        return AutoModelForCausalLM.from_pretrained(loading.resolve_model(name), **kwargs)
    except OSError as exc:
        raise loading.hub_failure(name, exc) from exc


def build_model(plan, attach_adapter: bool = True):
    """The base model (4-bit for QLoRA) with a LoRA adapter attached, or the full model."""
    a, t = plan.config.adapter, plan.config.train
    set_seed(t.seed)  # the adapter's random init is part of the run's reproducibility
    if a.adapter == "qlora":
        model = _load_4bit(plan.config.model.model, torch_dtype(compute_precision(plan)), plan.device.kind)

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=t.gradient_checkpointing)
    else:
        # LoRA keeps the frozen base in the compute dtype; full fine-tuning keeps fp32 master weights.
        # The Trainer places the model on this process's device (also under a distributed launch).
        dtype = torch.float32 if a.adapter == "full" or plan.precision == "fp32" else torch_dtype(plan.precision)
        model = loading.load_model(plan.config.model.model, dtype)
    model.config.use_cache = False
    if plan.device.kind == "cpu":  # no varlen kernel: padding-free batches one example at a time
        use_packed_attention(model)
    if a.adapter == "full":
        return model
    problems = checks.target_problems(a.target_modules, {n for n, _ in model.named_modules()})
    if problems:
        raise ConfigError(problems)
    if not attach_adapter:
        return model

    model = get_peft_model(model, lora_config(plan.config))
    record_base(model, plan.config)
    return model


def record_base(model, config: RunConfig) -> None:
    """Record the base by its public name (the Hub id for the embedded model), not a cache path,
    so the adapter loads anywhere with plain PEFT."""
    model.peft_config["default"].base_model_name_or_path = loading.base_model_id(config.model.model)


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameters; 4-bit weights count unpacked, as PEFT counts them."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if param.__class__.__name__ == "Params4bit":
            n *= 2 * param.element_size()
        total += n
        if param.requires_grad:
            trainable += n
    return trainable, total


def keep_adapter_dtype(model, precision: str) -> None:
    """TRL casts QLoRA adapters to bf16; on fp32 runs (CPUs without native bf16) cast them back."""
    if precision != "fp32":
        return
    for _, param in model.named_parameters():
        if param.requires_grad:
            param.data = param.data.float()
