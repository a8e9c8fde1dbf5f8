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

from studio.launch.options import LaunchConfig
from studio.schema import from_dict, option, to_dict

EMBEDDED_MODEL = "smollm2-135m-instruct"

TARGET_PRESETS = {
    "q,v": ["q_proj", "v_proj"],
    "attention": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "all-linear": "all-linear",
}

# The loss variants TRL 1.16's DPOTrainer accepts (``DPOConfig.loss_type``); tests/test_training_methods.py
# reads them back from the installed trainer so this list stays true.
DPO_LOSSES = (
    "sigmoid hinge ipo exo_pair nca_pair robust bco_pair sppo_hard aot aot_unpaired apo_zero apo_down discopop sft "
    "sigmoid_norm"
).split()

# The training methods, each one module in studio.train.methods, and the data each one reads.
METHOD_NAMES = ["sft", "dpo", "orpo", "kto", "reward", "grpo"]

# Weight and compute dtypes by name: torch's name (studio.models.device maps it) and bytes per value.
DTYPES = {"fp32": ("float32", 4), "bf16": ("bfloat16", 2), "fp16": ("float16", 2)}
PRECISIONS = ["auto", *DTYPES]
GGUF_CHOICES = ["none", "f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0"]  # studio.export.gguf
# The chat templates a model without its own may pick (studio.data.templates, which imports the data
# package and so cannot be imported here; tests/test_templates.py holds the two equal).
TEMPLATE_CHOICES = ["auto", "chatml", "qwen3", "llama3", "gemma", "phi3", "mistral", "granite", "tulu"]
TRACKERS = ["none", "tensorboard", "trackio", "mlflow", "wandb"]  # studio.train.trackers


@dataclass(frozen=True)
class Optimizer:
    """What the config choices, the hardware checks and the memory estimate know of an optimizer."""

    devices: tuple[str, ...]  # where it is honest: paged variants only help where GPU memory spills to RAM
    state: str  # "relative": state bytes = factor x the parameter's bytes; "absolute": factor bytes
    factor: float  # per trainable value


# bitsandbytes 0.50 runs its 8-bit AdamW on CPU too, not on Apple GPUs. AdamW keeps two moments in
# the parameter's dtype; 8-bit AdamW two uint8 moments plus block scales; Adafactor factors its second
# moments into a row and a column vector per matrix, a few percent of AdamW's (an allowance).
OPTIMIZERS = {
    "adamw_torch": Optimizer(("cuda", "cpu", "mps"), "relative", 2.0),
    "adamw_torch_fused": Optimizer(("cuda", "cpu"), "relative", 2.0),
    "adamw_8bit": Optimizer(("cuda", "cpu"), "absolute", 2.03),
    "paged_adamw_8bit": Optimizer(("cuda",), "absolute", 2.03),
    "paged_adamw_32bit": Optimizer(("cuda",), "relative", 2.0),
    "sgd": Optimizer(("cuda", "cpu", "mps"), "relative", 0.0),
    "adafactor": Optimizer(("cuda", "cpu", "mps"), "relative", 0.05),
}


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
        choices=["auto", "alpaca", "sharegpt", "messages", "text", "preference", "kto", "prompt"],
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
    method: str = option(
        "sft",
        "sft: imitate the answers; dpo / orpo: prefer chosen over rejected (orpo needs no reference model); "
        "reward: train a reward model on preference pairs; kto: good/bad labelled answers; "
        "grpo: sample answers to prompts and reinforce those the reward functions score high.",
        choices=METHOD_NAMES,
    )
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
class DPOConfig:
    beta: float = option(
        0.1,
        "DPO / KTO beta: how far the policy may move from the reference (higher stays closer); 0.1 is usual. "
        "ORPO: the weight of its odds-ratio term beside the SFT loss.",
        above=0.0,
        maximum=100.0,
    )
    dpo_loss: str = option(
        "sigmoid",
        "DPO loss variant: sigmoid is the original DPO; ipo, hinge, robust, apo_zero... are TRL's alternatives.",
        choices=DPO_LOSSES,
    )
    dpo_label_smoothing: float = option(
        0.0,
        "Assumed share of flipped preference labels, for the robust (below 0.5) and exo_pair (between 0 and 1, "
        "e.g. 1e-3) losses.",
        minimum=0.0,
        maximum=1.0,
        step=0.001,
        label="DPO label smoothing",
    )


def _weight(default: float, help: str):
    """A reward function's weight in GRPO's sum (0 turns the function off)."""
    return option(default, help, minimum=0.0, maximum=100.0)


@dataclass
class KTOConfig:
    """KTO's weights on good and bad examples (it reads beta from the DPO section)."""

    kto_desirable_weight: float = option(
        1.0, "KTO weight on the good (label true) examples; raise it when they are the fewer.", above=0.0, maximum=100.0
    )
    kto_undesirable_weight: float = option(
        1.0, "KTO weight on the bad (label false) examples; keep weight x rows about equal.", above=0.0, maximum=100.0
    )


@dataclass
class GRPOConfig:
    """GRPO: the sampled groups and the built-in reward functions (studio.train.rewards)."""

    num_generations: int = option(
        4, "Group size: answers sampled per prompt, each scored against its group's mean.", minimum=2, maximum=64
    )
    max_completion_length: int = option(
        32, "Longest sampled answer in tokens; sampling dominates a GRPO step's time.", minimum=1, maximum=8192
    )
    kl_beta: float = option(
        0.0,
        "KL penalty towards the base; 0 skips the reference pass, 0.01-0.05 stays close.",
        minimum=0.0,
        maximum=10.0,
    )
    grpo_temperature: float = option(
        1.0, "Sampling temperature of the group's answers; lower is less varied.", above=0.0, maximum=5.0, step=0.05
    )
    num_iterations: int = option(
        1, "Optimizer passes over each generated batch (GRPO's mu); above 1 reuses samples.", minimum=1, maximum=16
    )
    reward_exact: float = _weight(
        1.0, "Weight of the exact-answer reward: 1 when the final answer (after 'Answer:') equals answer_column."
    )
    answer_column: str = option("answer", "The dataset column holding the reference answers (exact-answer reward).")
    reward_format: float = _weight(0.0, "Weight of the format reward: 1 when the whole answer matches format_regex.")
    format_regex: str = option(r"\s*Answer: -?\d+\s*", "Python regular expression a well-formatted answer matches.")
    reward_length: float = _weight(
        0.0, "Weight of the length reward: 1 at length_target characters, 0 at zero or twice the target."
    )
    length_target: int = option(200, "Answer length in characters the length reward aims at.", minimum=1, maximum=10**6)
    reward_no_repeat: float = _weight(0.0, "Weight of the no-repetition reward: the share of distinct word 3-grams.")
    reward_model: float = _weight(
        0.0, "Weight of the trained reward model's score (a reward run of this studio, named in reward_model_run)."
    )
    reward_model_run: str = option(
        "", "The completed reward-model run (method reward) whose score is a reward, e.g. 20261129-1200-reward."
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


@dataclass
class RunConfig:
    """Everything needed to reproduce a run; written first into the run directory as config.yaml."""

    model: ModelConfig = option(default_factory=ModelConfig)
    adapter: AdapterConfig = option(default_factory=AdapterConfig)
    data: DataConfig = option(default_factory=DataConfig)
    train: TrainConfig = option(default_factory=TrainConfig)
    dpo: DPOConfig = option(default_factory=DPOConfig)
    kto: KTOConfig = option(default_factory=KTOConfig)
    grpo: GRPOConfig = option(default_factory=GRPOConfig)
    probes: ProbeConfig = option(default_factory=ProbeConfig)
    launch: LaunchConfig = option(default_factory=LaunchConfig)  # where it trains (studio.launch)
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
        launch = (data or {}).get("launch")
        if isinstance(launch, dict) and True in launch:  # YAML 1.1 reads a bare `on:` key as true
            launch["on"] = launch.pop(True)
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
