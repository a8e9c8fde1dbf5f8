"""What a run will cost, from the model's config alone (meta device: no weights are loaded).

    python -m studio estimate --model smollm2-135m-instruct --adapter qlora --lora-r 16 --json
    est = estimate(config)           # exact parameter counts, memory by part
    verdict = fit(est, config)       # fits / tight / won't fit, and the change that would make it fit

Parameters are counted on the real architecture built on the meta device, with the real PEFT
adapter attached, so the trainable count is PEFT's own. Memory follows what the training code
does (``studio.train.trainer``): LoRA keeps the frozen base in the compute dtype and the adapter in
fp32; QLoRA stores the decoder's Linear weights as 4-bit NF4 with double quantization while PEFT
upcasts the rest to fp32; full fine-tuning keeps fp32 master weights and, under bf16/fp16
autocast, a half-precision copy of each Linear weight for the step; QLoRA's loading and
dequantisation add their buffers. Activations (``studio.train.activations``) are an allowance for
the longest micro-batch (batch x the longest example, max_length before the data is read; chosen +
rejected for the pairwise methods): what each decoder layer keeps for backward, the attention mask
SDPA keeps, and the output head as the method holds it. The runtime counts too: the process
before its model (Python and the training libraries, or the CUDA context), so the total is the
peak the process reaches, the figure ``studio.train.peak_memory`` measures. ``plan_estimate``
is the one estimate of a planned run: the review, admission and the status line all show it.
``python -m studio estimate --measure`` trains a few steps and puts the measured peak next to it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace

import torch
from peft import get_peft_model

from studio.config import METHODS, OPTIMIZERS, RunConfig
from studio.models.device import DeviceInfo, current_rss_bytes, detect, resolve_precision
from studio.models.meta import meta_model
from studio.train.activations import BYTES, activation_bytes, dims, rows_per_example
from studio.train.model import lora_config

log = logging.getLogger(__name__)

GIB = 2**30
NF4_BLOCK = 64  # bitsandbytes 4-bit block size; double quantization groups 256 block scales
# The training process before its model: Python, torch, transformers, TRL, PEFT and datasets
# imported, the tokenizer and the rendered rows (VmRSS of ``python -m studio train`` on Linux,
# CPU wheels: 0.69 GiB). A process that already holds more (the app) counts what it holds.
PROCESS_BYTES = int(0.7 * GIB)
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc on 64-bit: larger allocations are mapped apart, freed to the system
CUDA_CONTEXT_BYTES = 2**29  # the CUDA context and cuBLAS workspaces, outside torch's allocator
FITS, TIGHT, NO_FIT = "fits", "tight", "won't fit"


@dataclass
class Estimate:
    model: str
    adapter: str
    method: str
    precision: str
    total_params: int
    trainable_params: int
    memory_bytes: dict[str, int]
    tokens_per_microbatch: int
    notes: list[str] = field(default_factory=list)
    held_bytes: int = 0  # of the runtime, what the estimating process already held (not free memory)

    @property
    def trainable_share(self) -> float:
        return self.trainable_params / self.total_params if self.total_params else 0.0

    @property
    def total_bytes(self) -> int:
        """The process's peak: what the status line, the review and admission all show."""
        return self.memory_bytes["total"]

    @property
    def added_bytes(self) -> int:
        """What the run adds to what this process already holds: admission's figure."""
        return self.total_bytes - self.held_bytes

    def to_dict(self) -> dict:
        out = asdict(self)
        out["trainable_share"] = round(self.trainable_share, 6)
        out["memory_gib"] = {k: round(v / GIB, 3) for k, v in self.memory_bytes.items()}
        return out


@dataclass
class Fit:
    level: str  # fits, tight, won't fit
    free_bytes: int
    message: str
    suggestions: list[str] = field(default_factory=list)


# -- parameters ----------------------------------------------------------------------------------


@dataclass
class Counts:
    total: int  # logical parameters (4-bit weights counted unpacked, as PEFT does)
    trainable: int
    quantized: int  # parameters stored as 4-bit NF4 (QLoRA)
    linear: int  # parameters of the Linear weights (autocast copies them in full fine-tuning)
    frozen_float: int  # frozen parameters kept in floating point
    config: object = None
    adapted_inputs: int = 0  # input features of the LoRA-adapted Linear layers, summed over the model
    adapted_layers: int = 0  # LoRA-adapted Linear layers in the model
    linear_sizes: tuple[int, ...] = ()  # parameters of each decoder Linear weight


def _is_linear(module) -> bool:
    return isinstance(module, torch.nn.Linear)


def count_parameters(config: RunConfig) -> Counts:
    """Exact parameter counts of the run's model, adapter attached, built on the meta device."""
    a = config.adapter
    key = (config.model.model.strip(), a.adapter, a.lora_r, a.target_modules.strip(), a.use_dora, a.use_rslora)
    return _counts(key, config)


_COUNTS: dict[tuple, Counts] = {}


def _counts(key: tuple, config: RunConfig) -> Counts:
    if key not in _COUNTS:
        if len(_COUNTS) > 64:
            _COUNTS.clear()
        _COUNTS[key] = _count(config)
    return _COUNTS[key]


def _count(config: RunConfig) -> Counts:
    a = config.adapter
    model = meta_model(config.model.model)
    total = sum(p.numel() for p in model.parameters())
    output = model.get_output_embeddings()
    linear = [m for m in model.modules() if _is_linear(m) and m is not output]
    linear_params = sum(m.weight.numel() for m in linear)
    sizes = tuple(m.weight.numel() for m in linear)
    if a.adapter == "full":
        return Counts(total, total, 0, linear_params, 0, model.config, linear_sizes=sizes)

    peft_model = get_peft_model(model, lora_config(config))
    trainable, total_with_adapter = peft_model.get_nb_trainable_parameters()
    quantized = linear_params if a.adapter == "qlora" else 0
    frozen = total_with_adapter - trainable
    adapted = [m for m in peft_model.modules() if hasattr(m, "lora_A") and _is_linear(getattr(m, "base_layer", None))]
    inputs = sum(m.base_layer.in_features for m in adapted)
    counts = Counts(total_with_adapter, trainable, quantized, linear_params, frozen - quantized, model.config)
    counts.adapted_inputs, counts.adapted_layers, counts.linear_sizes = inputs, len(adapted), sizes
    return counts


# -- memory --------------------------------------------------------------------------------------


def _optimizer_bytes(optim: str, trainable: int, param_bytes: int) -> int:
    """State bytes from the one optimizer table (studio.config.OPTIMIZERS)."""
    o = OPTIMIZERS[optim]
    return int(trainable * o.factor * (param_bytes if o.state == "relative" else 1))


def memory_parts(
    config: RunConfig, counts: Counts, precision: str, tokens: int, device_kind: str = "cpu", labelled: int = 0
) -> dict[str, int]:
    """Bytes by part: weights, gradients, optimizer states, activations (and the total)."""
    a, t = config.adapter, config.train
    compute = BYTES[precision]
    d = dims(counts.config)
    d["adapted_inputs"] = counts.adapted_inputs // d["layers"]  # per decoder layer
    d["adapted"] = counts.adapted_layers // d["layers"]
    parts: dict[str, int] = {}
    if a.adapter == "full":
        param_bytes = 4
        parts["weights"] = counts.total * 4
        if precision != "fp32" and not t.gradient_checkpointing:
            # autocast's half-precision copies of the Linear weights, kept for backward (with
            # checkpointing, the first forward keeps nothing and each layer recasts its own)
            parts["weight_copies"] = counts.linear * compute
    elif a.adapter == "qlora":
        # TRL casts QLoRA adapters to bf16; the studio casts them back to fp32 when training in fp32.
        param_bytes = 4 if precision == "fp32" else 2
        n = counts.quantized
        nf4 = n // 2 + n // NF4_BLOCK + 4 * (n // (NF4_BLOCK * 256))
        parts["weights"] = nf4 + counts.frozen_float * 4 + counts.trainable * param_bytes
        parts["quantization"] = _quantization_bytes(counts, compute, d["layers"], device_kind)
    else:
        param_bytes = 4  # PEFT keeps LoRA adapters in fp32 over a half-precision base
        parts["weights"] = counts.frozen_float * compute + counts.trainable * param_bytes
    parts["gradients"] = counts.trainable * param_bytes
    parts["optimizer"] = _optimizer_bytes(t.optim, counts.trainable, param_bytes)
    parts["activations"] = activation_bytes(config, d, precision, tokens, device_kind, labelled)
    parts["total"] = sum(parts.values())
    return parts


def _quantization_bytes(counts: Counts, compute: int, layers: int, device_kind: str) -> int:
    """What 4-bit loading and the 4-bit layers hold beyond the NF4 weights: one decoder layer's
    Linear weights dequantized to the compute dtype (each Linear4bit dequantizes in forward and again
    in backward); on a CPU also the weights the loader read in the compute dtype before quantizing
    them, where glibc's heap keeps them: those under its largest mmap threshold (32 MiB; larger
    blocks are mapped apart and given back). Measured: the embedded model holds 0.30 GiB more after
    4-bit loading than its parameters, about 3 bytes per quantized weight."""
    dequantized = counts.quantized // max(layers, 1) * compute
    heap = [n * compute for n in counts.linear_sizes if n * compute < MMAP_THRESHOLD_MAX]
    return dequantized + (sum(heap) if device_kind == "cpu" else 0)


def runtime_bytes(device: DeviceInfo) -> tuple[int, int]:
    """(runtime, held): what the training process holds before its model, and how much of it
    this process holds already (so it is not in the free memory admission compares with).

    On a CPU the Python process with the training libraries (``PROCESS_BYTES``, or what this
    process holds now when more: the app with its chat models), rounded up to 64 MiB so that a
    review and the job read the same figure; on CUDA the context and what torch has allocated.
    """
    if device.kind == "cuda":
        here = torch.cuda.is_available()
        held = torch.cuda.memory_allocated() if here else 0
        return CUDA_CONTEXT_BYTES + held, (CUDA_CONTEXT_BYTES + held) if here else 0
    held = current_rss_bytes()
    step = 2**26
    return -(-max(PROCESS_BYTES, held) // step) * step, held


def microbatch_tokens(config: RunConfig, length: int | None = None) -> int:
    """Tokens in the longest micro-batch: batch x length, doubled for DPO (chosen and rejected).

    ``length`` is the longest sequence: max_length before the data is read, or the longest
    rendered example once it is (never more than max_length).
    """
    t = config.train
    packed = t.method == "sft" and t.packing  # packing fills every row to max_length
    length = t.max_length if packed else min(t.max_length, length or t.max_length)
    return t.batch_size * length * rows_per_example(config)


def estimate(
    config: RunConfig, device: DeviceInfo | None = None, length: int | None = None, labelled: int | None = None
) -> Estimate:
    """Parameters and memory of a run; raises ValueError naming the model when it cannot be read.

    ``length``: the longest example of the data, when known (else every sequence is assumed
    to fill max_length, the worst case); ``labelled``: the most labelled tokens of one sequence
    (else all of them), which bounds the logits where the head projects only those.
    """
    device = device or detect()
    precision = resolve_precision(config.model.precision, device)
    counts = count_parameters(config)
    tokens = microbatch_tokens(config, length)
    rows = config.train.batch_size * rows_per_example(config)
    packed = config.train.method == "sft" and config.train.packing
    labelled_tokens = rows * labelled if labelled and not packed else 0
    parts = memory_parts(config, counts, precision, tokens, device.kind, labelled_tokens)
    parts["runtime"], held = runtime_bytes(device)
    parts["total"] += parts["runtime"]
    bound = f"longest example {length}" if length and length < config.train.max_length else "max_length"
    notes = [
        f"activations: an allowance for {tokens} tokens per micro-batch "
        f"({config.train.batch_size} x {bound} {tokens // config.train.batch_size // rows_per_example(config)}"
        + (f" x {rows_per_example(config)} sequences per example" if rows_per_example(config) > 1 else "")
        + ("; gradient checkpointing on" if config.train.gradient_checkpointing else "")
        + ")",
        "runtime: the process before its model (Python and the training libraries"
        + (", the CUDA context)" if device.kind == "cuda" else "; what this process holds now, when more)"),
    ]
    method = config.train.method
    if METHODS[method].keeps_reference(config.grpo.kl_beta) and config.adapter.adapter == "full":
        ref = counts.total * compute_bytes(precision)
        parts["reference"] = ref
        parts["total"] += ref
        notes.append(f"full {method.upper()} keeps a frozen reference copy of the model")
    return Estimate(
        config.model.model,
        config.adapter.adapter,
        config.train.method,
        precision,
        counts.total,
        counts.trainable,
        parts,
        tokens,
        notes,
        held,
    )


def plan_estimate(plan) -> Estimate:
    """The estimate of a planned run (its data read, its longest example known): the one figure
    the review, admission, the status line and ``estimate --measure`` show."""
    return estimate(plan.config, plan.device, length=plan.train.longest or None, labelled=plan.train.longest_labelled)


def compute_bytes(precision: str) -> int:
    return BYTES[precision]


# -- the verdict ---------------------------------------------------------------------------------


def _level(total: int, free: int) -> str:
    if total <= 0.8 * free:
        return FITS
    return TIGHT if total <= free else NO_FIT


def _changes(config: RunConfig) -> list[tuple[str, RunConfig]]:
    """Single changes that lower memory, in the order a practitioner would try them."""
    out = []
    a, t = config.adapter, config.train
    if a.adapter == "full":
        out.append(("train a LoRA adapter instead of every weight (adapter: lora)", _with(config, adapter="lora")))
    if a.adapter != "qlora":
        out.append(("load the base in 4-bit (adapter: qlora)", _with(config, adapter="qlora")))
    if not t.gradient_checkpointing:
        out.append(("turn on gradient checkpointing", _with(config, gradient_checkpointing=True)))
    if t.batch_size > 1:
        half = max(1, t.batch_size // 2)
        accum = t.grad_accum * t.batch_size // half
        out.append(
            (
                f"batch {half} with gradient accumulation {accum} (same effective batch)",
                _with(config, batch_size=half, grad_accum=accum),
            )
        )
    if t.max_length > 256:
        out.append((f"max_length {t.max_length // 2}", _with(config, max_length=t.max_length // 2)))
    if OPTIMIZERS[t.optim].state == "relative" and OPTIMIZERS[t.optim].factor >= 1:  # 32-bit AdamW states
        out.append(("the 8-bit AdamW optimizer (optim: adamw_8bit)", _with(config, optim="adamw_8bit")))
    return out


def _with(config: RunConfig, **changes) -> RunConfig:
    new = RunConfig.from_dict(config.to_dict())
    for section in ("adapter", "train"):
        obj = getattr(new, section)
        fields = {k: v for k, v in changes.items() if hasattr(obj, k)}
        setattr(new, section, replace(obj, **fields))
    return new


def fit(est: Estimate, config: RunConfig, device: DeviceInfo | None = None, free_bytes: int | None = None) -> Fit:
    """Traffic light against the device's free memory, with the changes that would make it fit."""
    device = device or detect()
    free = free_bytes if free_bytes is not None else device.free_memory_bytes
    level = _level(est.added_bytes, free)
    where = f"{free / GIB:.1f} GiB " + ("given" if free_bytes is not None else f"free on {device.kind}")
    held = f" ({est.held_bytes / GIB:.2f} GiB of it held already)" if est.held_bytes else ""
    message = f"{level}: needs about {est.total_bytes / GIB:.2f} GiB{held}, {where}"
    if level == FITS:
        return Fit(level, free, message)
    suggestions = []
    for text, changed in _changes(config):
        try:
            other = estimate(changed, device)
        except ValueError:
            continue
        if _level(other.added_bytes, free) == FITS:
            suggestions.append(f"{text}: about {other.total_bytes / GIB:.2f} GiB, fits")
    if not suggestions:
        suggestions.append("no single change is enough: combine 4-bit, a smaller batch and a shorter max_length")
    return Fit(level, free, message, suggestions)


def time_text(steps: int, seconds_per_step: float | None, source: str = "") -> str:
    """'56 steps x 1.7 s = 1m35s' once a step time is known, else the step count alone."""
    if not seconds_per_step:
        return f"{steps} steps; time is estimated once the first steps are timed"
    total = steps * seconds_per_step
    clock = f"{int(total // 3600)}h{int(total % 3600 // 60):02d}m" if total >= 3600 else f"{total / 60:.1f} min"
    return f"{steps} steps x {seconds_per_step:.2f} s = about {clock}" + (f" ({source})" if source else "")
