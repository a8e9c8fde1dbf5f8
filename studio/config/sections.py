"""The run's sections that every method shares: the model, the adapter, the data, the training
loop, the pinned probes and the export. Each field documented once (``option``'s help and bounds);
the closed lists they choose from are the tables of studio.config.choices and method_table.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.config.choices import (
    DTYPES,
    FORMAT_CHOICES,
    GGUF_CHOICES,
    OPTIMIZERS,
    PRECISIONS,
    TEMPLATE_CHOICES,
    TRACKERS,
)
from studio.config.method_table import METHOD_NAMES, method_help
from studio.schema import option

EMBEDDED_MODEL = "smollm2-135m-instruct"


@dataclass
class ModelConfig:
    model: str = option(
        EMBEDDED_MODEL,
        f"Base model: {EMBEDDED_MODEL!r} (embedded, offline), a local Hugging Face model folder, or a Hub id.",
        label="Base model",
    )
    precision: str = option(
        "auto",
        "Compute precision; auto picks bf16 on GPUs and CPUs that support it, else fp16 on GPU, else fp32.",
        choices=PRECISIONS,
    )
    chat_template: str = option(
        "auto",
        "Chat template: auto uses the model's own; a model without one must pick its family's (studio.data.templates).",
        choices=TEMPLATE_CHOICES,
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
        maximum=4096,
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
        choices=PRECISIONS,
    )


@dataclass
class DataConfig:
    dataset: str = option(
        "assets/sample_sft.jsonl", "Training data: a JSON, JSONL, CSV or Parquet file, or a Hub dataset id."
    )
    format: str = option(
        "auto",
        "Data format; auto detects it from the columns (a KTO run reads messages with a label as kto).",
        choices=FORMAT_CHOICES,
    )
    columns: str = option("", "Column mapping for other names, e.g. 'instruction=question,output=answer'.")
    system_prompt: str = option("", "System prompt added to rows that have none (empty: the template's default).")
    val_fraction: float = option(
        0.0, "Share of rows held out for validation (0 for none).", minimum=0.0, maximum=0.5, step=0.01
    )
    max_rows: int | None = option(None, "Use only the first N rows (empty or 0 for all).", minimum=1, maximum=10**9)
    val_dataset: str = option(
        "",
        "A separate validation file in the same format (e.g. the .val.jsonl that data clean wrote); "
        "when set, every row of dataset trains and val_fraction is not used.",
    )


@dataclass
class TrainConfig:
    method: str = option("sft", method_help(), choices=METHOD_NAMES)
    epochs: float = option(1.0, "Passes over the training data.", minimum=0.0, maximum=1000.0)
    max_steps: int = option(-1, "Stop after this many optimizer steps; -1 uses epochs.", minimum=-1, maximum=10**7)
    batch_size: int = option(4, "Examples per device per forward pass.", minimum=1, maximum=1024)
    grad_accum: int = option(
        1,
        "Forward passes accumulated per optimizer step (effective batch = batch x accumulation).",
        minimum=1,
        maximum=1024,
    )
    learning_rate: float = option(
        2e-4, "Peak learning rate; ~2e-4 for LoRA, ~1e-5 for full fine-tuning, ~5e-6 for DPO.", above=0.0, maximum=1.0
    )
    scheduler: str = option(
        "linear",
        "Learning-rate schedule after warmup.",
        choices=["linear", "cosine", "constant", "constant_with_warmup"],
    )
    warmup_ratio: float = option(
        0.0, "Share of steps spent warming the learning rate up from 0.", minimum=0.0, maximum=0.5, step=0.01
    )
    weight_decay: float = option(0.0, "L2 weight decay in AdamW.", minimum=0.0, maximum=1.0)
    max_grad_norm: float = option(1.0, "Clip gradients to this norm (0 disables).", minimum=0.0, maximum=1000.0)
    optim: str = option(
        "adamw_torch",
        "Optimizer; adamw_8bit keeps its states in 8 bits (bitsandbytes); paged variants spill to CPU RAM on a GPU.",
        choices=list(OPTIMIZERS),
    )
    seed: int = option(
        42, "Random seed for data order, dropout and the validation split.", minimum=0, maximum=2**32 - 1
    )
    max_length: int = option(
        512, "Longest training sequence in tokens; longer examples are cut at the end.", minimum=16, maximum=131072
    )
    packing: bool = option(False, "Pack several short examples into one sequence (kept apart by position ids).")
    padding_free: bool = option(
        True, "Batch without padding: sequences are concatenated, none of the compute is spent on pad tokens."
    )
    assistant_only_loss: bool = option(True, "Learn only from the assistant's tokens; off also trains on prompts.")
    gradient_checkpointing: bool = option(False, "Recompute activations in backward: less memory, ~20-30% slower.")
    logging_steps: int = option(1, "Log metrics every N steps.", minimum=1, maximum=10**6)
    eval_steps: int = option(0, "Evaluate on the validation split every N steps (0: never).", minimum=0, maximum=10**7)
    save_steps: int = option(
        20, "Save a resumable checkpoint every N steps (0: only at the end).", minimum=0, maximum=10**7
    )
    save_total_limit: int = option(2, "Keep at most this many checkpoints.", minimum=1, maximum=1000)
    early_stopping_patience: int = option(
        0, "Stop after N evaluations without improvement (0: off; needs eval_steps).", minimum=0, maximum=1000
    )
    report_to: str = option(
        "none", "Also log to tensorboard, mlflow, wandb (offline) or trackio; the Runs tab opens it.", choices=TRACKERS
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

    def prompts(self) -> list[str]:
        """The pinned probe prompts, one per non-empty line."""
        return [line.strip() for line in (self.probe_prompts or "").splitlines() if line.strip()]


@dataclass
class ExportConfig:
    """How a trained run leaves the studio: the Export tab, ``export``/``push`` and studio.export.hub."""

    dtype: str = option(
        "bf16",
        "Dtype of the merged model's weights: bf16 halves the size and keeps fp32's range; fp32 is exact.",
        choices=list(DTYPES),
        label="Weights dtype",
    )
    merged: bool = option(
        False,
        "Merge the adapter into the base and save (or push) the full model instead of the adapter.",
        label="Merged full model",
    )
    private: bool = option(
        True, "Create the Hub repository as private; off: public (anyone can download it).", label="Private"
    )
    update: bool = option(
        False,
        "Push a new commit to the Hub repository if it already exists (else an existing one is refused).",
        label="Update the repository if it exists",
    )
    verify: bool = option(
        True,
        "After a push, download what was uploaded, load it with plain PEFT / transformers and compare.",
        label="Check the upload",
    )
    gguf: str = option(
        "none", "Also write a GGUF for llama.cpp/Ollama (read back and checked); none: skip.", choices=GGUF_CHOICES
    )
