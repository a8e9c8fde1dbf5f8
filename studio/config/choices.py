"""The closed lists a run's fields choose from, one table each: dtypes, GGUF types, optimizers,
DPO losses, target presets, trackers, chat templates and data formats.

    DTYPES["bf16"].bytes          # 2: the estimate's bytes per value
    GGUF_TYPES["q4_0"].quantize   # "Q4_0": the ggml type the gguf package quantizes to
    OPTIMIZERS["adamw_8bit"]      # where it runs, and its state's size

Each reader (the field's choices, the checks, the estimate, the export) looks the name up here;
they sit below every package that reads them (data, models, train, export, the UI).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Dtype:
    """A floating-point type by the studio's name: torch's name (studio.models.device maps it to
    the torch dtype) and bytes per value (the memory estimate)."""

    torch_name: str
    bytes: int


# The one dtype table: training precisions, QLoRA compute dtypes, the chat's and the export's weights.
DTYPES = {"fp32": Dtype("float32", 4), "bf16": Dtype("bfloat16", 2), "fp16": Dtype("float16", 2)}
PRECISIONS = ["auto", *DTYPES]  # a precision or compute dtype: a dtype, or auto (from the hardware)


@dataclass(frozen=True)
class GGUFType:
    """A GGUF type the export writes (studio.models.gguf_writer) and reads back (studio.export.gguf_check).

    ``outtype``: llama.cpp's converter's --outtype; ``quantize``: the ggml type the gguf package then
    quantizes to (None: the converter writes it); ``tolerance``: the largest KL(merged || GGUF) of the
    next-token distribution the check allows, in nats; ``exact``: above it is an error, not a warning.
    """

    outtype: str
    quantize: str | None
    tolerance: float
    exact: bool = False


# Tolerances measured on SmolLM2-135M (3 prompts): f16 4.6e-6, bf16 1.3e-4, q8_0 0.0055, q5_1 0.32,
# q5_0 0.43, q4_0 0.69 (q4_1 0: the embedded weights came from a Q4_1 file). A 135M model loses much at
# 4 and 5 bits; the tolerances leave about 2-4x of room, and a broken file (wrong layout) lands far above.
GGUF_TYPES = {
    "f32": GGUFType("f32", None, 1e-6, exact=True),
    "f16": GGUFType("f16", None, 1e-4, exact=True),
    "bf16": GGUFType("bf16", None, 1e-3),
    "q8_0": GGUFType("q8_0", None, 0.02),
    "q5_1": GGUFType("f32", "Q5_1", 1.0),
    "q5_0": GGUFType("f32", "Q5_0", 1.0),
    "q4_1": GGUFType("f32", "Q4_1", 1.5),
    "q4_0": GGUFType("f32", "Q4_0", 1.5),
}
GGUF_CHOICES = ["none", *GGUF_TYPES]

# The chat templates a model without its own may pick (studio.data.templates, which sits in the data
# package, above the config; tests/test_templates.py holds the two equal).
TEMPLATE_CHOICES = ["auto", "chatml", "qwen3", "llama3", "gemma", "phi3", "mistral", "granite", "tulu"]
TRACKERS = ["none", "tensorboard", "trackio", "mlflow", "wandb"]  # studio.train.trackers


@dataclass(frozen=True)
class Format:
    """One input format: the canonical shape (kind) its rows become and the columns it reads."""

    kind: str  # chat, text, preference or prompt (studio.data.formats; kto rows are chat rows with a label)
    columns: str  # what a row holds, for the refusal of a file no format fits


# The one table of formats (studio.data.formats reads rows by it): the config's choices, the CLI's
# and the Data tab's read its names, the method table its kinds.
FORMATS = {
    "alpaca": Format("chat", "instruction, output[, input, system]"),
    "sharegpt": Format("chat", "conversations"),
    "messages": Format("chat", "messages"),
    "text": Format("text", "text"),
    "preference": Format("preference", "prompt, chosen, rejected, or conversations with chosen and rejected"),
    "kto": Format("chat", "messages or prompt and completion, with label"),
    "prompt": Format("prompt", "prompt[, answer]"),
}
FORMAT_CHOICES = ["auto", *FORMATS]  # auto: detected from the columns


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
