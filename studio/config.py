"""The run configuration: one dataclass per concern, each field documented once.

A run is described by a YAML file with one mapping per section::

    python -m studio train configs/quick_lora_sft.yaml

The Train tab builds its form from these dataclasses and saves the same YAML; the CLI
generates one flag per field (``--learning-rate 1e-4`` overrides ``train.learning_rate``).
Field names are unique across sections so flags stay flat.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from studio.schema import from_dict, option, to_dict

EMBEDDED_MODEL = "smollm2-135m-instruct"

TARGET_PRESETS = {
    "q,v": ["q_proj", "v_proj"],
    "attention": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "all-linear": "all-linear",
}

# The loss variants TRL 1.16's DPOTrainer accepts (``DPOConfig.loss_type``); tests/test_training_methods.py
# reads them back from the installed trainer so this list stays true.
DPO_LOSSES = [
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
]

OPTIMIZERS = [
    "adamw_torch",
    "adamw_torch_fused",
    "adamw_8bit",
    "paged_adamw_8bit",
    "paged_adamw_32bit",
    "sgd",
    "adafactor",
]


@dataclass
class ModelConfig:
    model: str = option(
        EMBEDDED_MODEL,
        "Base model: 'smollm2-135m-instruct' (embedded, offline), a local Hugging Face model folder, or a Hub id.",
        label="Base model",
    )
    precision: str = option(
        "auto",
        "Compute precision; auto picks bf16 on GPUs and CPUs that support it, else fp16 on GPU, else fp32.",
        choices=["auto", "fp32", "bf16", "fp16"],
    )


@dataclass
class AdapterConfig:
    adapter: str = option(
        "lora",
        "lora: train a small low-rank adapter; qlora: the same on a 4-bit NF4 base; full: train every weight.",
        choices=["lora", "qlora", "full"],
        label="Fine-tuning type",
    )
    lora_r: int = option(
        8, "LoRA rank r: width of the low-rank update; 8-64 is typical.", minimum=1, maximum=1024, label="LoRA rank r"
    )
    lora_alpha: int = option(
        16,
        "LoRA alpha: the update is scaled by alpha / r; alpha = 2r is a common start.",
        minimum=1,
        label="LoRA alpha",
    )
    lora_dropout: float = option(
        0.0, "Dropout on the LoRA input; 0 to 0.1.", minimum=0.0, maximum=0.9, step=0.01, label="LoRA dropout"
    )
    target_modules: str = option(
        "all-linear",
        "Layers that get adapters: 'q,v', 'attention', 'all-linear', or a comma list of module names.",
        label="Target modules",
    )
    use_rslora: bool = option(False, "rsLoRA: scale by alpha / sqrt(r), steadier at high ranks.", label="rsLoRA")
    use_dora: bool = option(False, "DoRA: learn magnitude and direction apart; slower, sometimes better.", label="DoRA")
    compute_dtype: str = option(
        "auto",
        "QLoRA compute dtype for the 4-bit layers; auto follows the precision.",
        choices=["auto", "fp32", "bf16", "fp16"],
    )


@dataclass
class DataConfig:
    dataset: str = option(
        "assets/sample_sft.jsonl", "Training data: a JSON, JSONL, CSV or Parquet file, or a Hub dataset id."
    )
    format: str = option(
        "auto",
        "Data format; auto detects it from the columns.",
        choices=["auto", "alpaca", "sharegpt", "messages", "text", "preference"],
    )
    columns: str = option("", "Column mapping for other names, e.g. 'instruction=question,output=answer'.")
    system_prompt: str = option("", "System prompt added to rows that have none (empty: the template's default).")
    val_fraction: float = option(
        0.0, "Share of rows held out for validation (0 for none).", minimum=0.0, maximum=0.5, step=0.01
    )
    max_rows: int | None = option(None, "Use only the first N rows (empty or 0 for all).", minimum=1)
    val_dataset: str = option(
        "",
        "A separate validation file in the same format (e.g. the .val.jsonl that data clean wrote); "
        "when set, every row of dataset trains and val_fraction is not used.",
    )


@dataclass
class TrainConfig:
    method: str = option(
        "sft", "sft: imitate the answers; dpo: prefer chosen over rejected answers.", choices=["sft", "dpo"]
    )
    epochs: float = option(1.0, "Passes over the training data.", minimum=0.0)
    max_steps: int = option(-1, "Stop after this many optimizer steps; -1 uses epochs.", minimum=-1)
    batch_size: int = option(4, "Examples per device per forward pass.", minimum=1)
    grad_accum: int = option(
        1, "Forward passes accumulated per optimizer step (effective batch = batch x accumulation).", minimum=1
    )
    learning_rate: float = option(
        2e-4, "Peak learning rate; ~2e-4 for LoRA, ~1e-5 for full fine-tuning, ~5e-6 for DPO.", minimum=0.0
    )
    scheduler: str = option(
        "linear",
        "Learning-rate schedule after warmup.",
        choices=["linear", "cosine", "constant", "constant_with_warmup"],
    )
    warmup_ratio: float = option(
        0.0, "Share of steps spent warming the learning rate up from 0.", minimum=0.0, maximum=0.5, step=0.01
    )
    weight_decay: float = option(0.0, "L2 weight decay in AdamW.", minimum=0.0)
    max_grad_norm: float = option(1.0, "Clip gradients to this norm (0 disables).", minimum=0.0)
    optim: str = option(
        "adamw_torch",
        "Optimizer; adamw_8bit keeps its states in 8 bits (bitsandbytes); paged variants spill to CPU RAM on a GPU.",
        choices=OPTIMIZERS,
    )
    seed: int = option(42, "Random seed for data order, dropout and the validation split.")
    max_length: int = option(
        512, "Longest training sequence in tokens; longer examples are cut at the end.", minimum=16
    )
    packing: bool = option(False, "Pack several short examples into one sequence (kept apart by position ids).")
    padding_free: bool = option(
        True, "Batch without padding: sequences are concatenated, none of the compute is spent on pad tokens."
    )
    assistant_only_loss: bool = option(True, "Learn only from the assistant's tokens; off also trains on prompts.")
    gradient_checkpointing: bool = option(False, "Recompute activations in backward: less memory, ~20-30% slower.")
    logging_steps: int = option(1, "Log metrics every N steps.", minimum=1)
    eval_steps: int = option(0, "Evaluate on the validation split every N steps (0: never).", minimum=0)
    save_steps: int = option(20, "Save a resumable checkpoint every N steps (0: only at the end).", minimum=0)
    save_total_limit: int = option(2, "Keep at most this many checkpoints.", minimum=1)
    early_stopping_patience: int = option(
        0, "Stop after N evaluations without improvement (0: off; needs eval_steps).", minimum=0
    )


@dataclass
class DPOConfig:
    beta: float = option(0.1, "DPO beta: how far the policy may move from the reference; 0.1 is usual.", minimum=0.0)
    dpo_loss: str = option(
        "sigmoid",
        "DPO loss variant: sigmoid is the original DPO; ipo, hinge, robust, apo_zero... are TRL's alternatives.",
        choices=DPO_LOSSES,
    )
    dpo_label_smoothing: float = option(
        0.0,
        "Assumed share of flipped preference labels, for the robust (below 0.5) and exo_pair (above 0, e.g. 1e-3) losses.",
        minimum=0.0,
        maximum=0.49,
        step=0.001,
        label="DPO label smoothing",
    )


@dataclass
class ProbeConfig:
    probe_prompts: str = option(
        "",
        "Pinned prompts, one per line: at each evaluation the current model answers them (greedy), beside the base.",
        label="Probe prompts",
    )
    probe_max_new_tokens: int = option(
        48,
        "Longest probe answer in tokens; each probe costs this many decode steps per evaluation.",
        minimum=1,
        maximum=512,
    )


@dataclass
class RunConfig:
    """Everything needed to reproduce a run; written first into the run directory as config.yaml."""

    model: ModelConfig = option(default_factory=ModelConfig)
    adapter: AdapterConfig = option(default_factory=AdapterConfig)
    data: DataConfig = option(default_factory=DataConfig)
    train: TrainConfig = option(default_factory=TrainConfig)
    dpo: DPOConfig = option(default_factory=DPOConfig)
    probes: ProbeConfig = option(default_factory=ProbeConfig)
    run_name: str = option("", "A name for the run directory (empty: date, method and model).")

    @classmethod
    def sections(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "run_name"]

    def to_dict(self) -> dict:
        return to_dict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_yaml())
        return path

    @classmethod
    def from_dict(cls, data: dict | None) -> RunConfig:
        return from_dict(cls, data)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping with sections {', '.join(cls.sections())}")
        return cls.from_dict(data)


def probe_list(text: str) -> list[str]:
    """The pinned probe prompts, one per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def target_modules_value(spec: str) -> list[str] | str:
    """The PEFT ``target_modules`` value for a preset name or a comma list."""
    spec = spec.strip()
    if spec in TARGET_PRESETS:
        return TARGET_PRESETS[spec]
    return [m.strip() for m in spec.split(",") if m.strip()]
