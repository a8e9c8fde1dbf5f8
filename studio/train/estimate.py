"""What a run will cost, from the model's config alone (meta device: no weights are loaded).

    python -m studio estimate --model smollm2-135m-instruct --adapter qlora --lora-r 16 --json
    est = estimate(config)           # exact parameter counts, memory by part
    verdict = fit(est, config)       # fits / tight / won't fit, and the change that would make it fit

Parameters are counted on the real architecture built on the meta device, with the real PEFT
adapter attached, so the trainable count is PEFT's own. Memory follows what the training code
does (``studio.train.trainer``): LoRA keeps the frozen base in the compute dtype and the adapter in
fp32; QLoRA stores the decoder's Linear weights as 4-bit NF4 with double quantization while PEFT
upcasts the rest to fp32; full fine-tuning keeps fp32 master weights and, under bf16/fp16
autocast, a half-precision copy of each Linear weight for the step. Activations are an
allowance for the longest micro-batch (batch x max_length tokens, chosen + rejected for DPO):
what each decoder layer keeps for backward (counted from the architecture), the attention mask
SDPA keeps, and the LM head: on CUDA TRL's chunked log-prob kernel, which never materialises the
full logits but holds a few tile-sized buffers; elsewhere the plain log-probabilities of
``studio.fastpaths.logprobs``, which hold the logits of the labelled tokens a few times over (counted
for every token: the worst case, learning from the prompts too). ``python -m studio estimate
--measure`` trains a few steps and puts the measured peak next to the estimate.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace

from studio.config import DTYPES, OPTIMIZERS, RunConfig
from studio.models.device import DeviceInfo, detect, resolve_precision
from studio.models.meta import meta_model
from studio.train.model import lora_config

log = logging.getLogger(__name__)

GIB = 2**30
BYTES = {name: size for name, (_, size) in DTYPES.items()}  # fp32 4, bf16 2, fp16 2
NF4_BLOCK = 64  # bitsandbytes 4-bit block size; double quantization groups 256 block scales
LOGPROB_TILE = (4096, 32768)  # TRL's chunked LM head: tokens x vocabulary columns per tile
# On CUDA TRL's Triton kernel holds a handful of fp32 tile-sized buffers at once in its backward.
HEAD_TILES_CUDA = 3
# Elsewhere studio.fastpaths.logprobs materialises the logits: the half-precision projection and its
# gradient (half each), the fp32 copy, the log-softmax cross-entropy keeps for backward, the
# softmax of its backward and the fp32 gradient: about five fp32 [tokens, vocab] buffers at the peak (measured on CPU with python -m studio estimate --measure;
# the saved activations themselves match the count in _layer_bytes within a few percent,
# checked with torch's saved-tensor hooks).
PLAIN_LOGIT_BUFFERS = 5
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

    @property
    def trainable_share(self) -> float:
        return self.trainable_params / self.total_params if self.total_params else 0.0

    @property
    def total_bytes(self) -> int:
        return self.memory_bytes["total"]

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


def _is_linear(module) -> bool:
    import torch

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
    if a.adapter == "full":
        return Counts(total, total, 0, linear_params, 0, model.config)
    from peft import get_peft_model

    peft_model = get_peft_model(model, lora_config(config))
    trainable, total_with_adapter = peft_model.get_nb_trainable_parameters()
    quantized = linear_params if a.adapter == "qlora" else 0
    frozen = total_with_adapter - trainable
    return Counts(total_with_adapter, trainable, quantized, linear_params, frozen - quantized, model.config)


# -- memory --------------------------------------------------------------------------------------


def _dims(cfg) -> dict:
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    h = text.hidden_size
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or h // heads
    kv = (getattr(text, "num_key_value_heads", None) or heads) * head_dim
    inter = getattr(text, "intermediate_size", None) or 4 * h
    return {
        "h": h,
        "q": heads * head_dim,
        "kv": kv,
        "i": inter,
        "layers": text.num_hidden_layers,
        "vocab": text.vocab_size,
    }


def _layer_bytes(d: dict, act: int, residual: int, masked: bool) -> int:
    """Bytes one decoder layer keeps for backward, per token.

    Attention: the norm's input and output, q, k, v, rotated q and k, the attention output;
    MLP: the norm's input and output, gate, up, the activation and the product. A half-precision
    residual stream adds the RMSNorms' fp32 copies; an explicit attention mask (padding, or
    padding-free sequences) makes SDPA take k and v repeated to every query head.
    """
    attention = 2 * residual * d["h"] + act * (3 * d["q"] + 3 * d["kv"])
    mlp = 2 * residual * d["h"] + act * 4 * d["i"]
    norms = 2 * 4 * d["h"] if residual != 4 else 0
    repeated_kv = 2 * act * d["q"] if masked else 0
    return attention + mlp + norms + repeated_kv


def _mask_bytes(config: RunConfig, act: int, layers: int, tokens: int) -> int:
    """The attention mask SDPA keeps per layer: tokens^2 for padding-free rows, rows x length^2 padded."""
    t = config.train
    rows = t.batch_size * rows_per_example(config)
    if t.method == "sft" and (t.padding_free or t.packing):
        return layers * act * tokens**2
    return layers * act * rows * (tokens // rows) ** 2


def _activation_bytes(config: RunConfig, d: dict, precision: str, tokens: int, device_kind: str) -> int:
    act = BYTES[precision]
    # fp32 master weights (full) and PEFT's fp32 upcast of embeddings and norms (QLoRA) keep the
    # residual stream in fp32 under autocast.
    residual = 4 if config.adapter.adapter in ("full", "qlora") else act
    per_layer = _layer_bytes(d, act, residual, masked=True)
    if config.adapter.adapter == "qlora" and residual != act:
        # PEFT casts each adapted layer's fp32 input to the adapters' half precision and keeps
        # the copy for backward (q, k, v, gate and up each take their own copy of h values).
        per_layer += act * (5 * d["h"] + d["q"] + d["i"])
    if config.train.gradient_checkpointing:
        stored = d["layers"] * residual * d["h"] * tokens + per_layer * tokens
        mask = _mask_bytes(config, act, 1, tokens)
    else:
        stored = d["layers"] * per_layer * tokens
        mask = _mask_bytes(config, act, d["layers"], tokens)
    if device_kind == "cuda":
        logits = min(tokens, LOGPROB_TILE[0]) * min(d["vocab"], LOGPROB_TILE[1]) * 4 * HEAD_TILES_CUDA
    else:
        logits = tokens * d["vocab"] * 4 * PLAIN_LOGIT_BUFFERS
    head = tokens * d["h"] * (residual + 4) + logits
    return int(stored + mask + head)


def _optimizer_bytes(optim: str, trainable: int, param_bytes: int) -> int:
    """State bytes from the one optimizer table (studio.config.OPTIMIZERS)."""
    o = OPTIMIZERS[optim]
    return int(trainable * o.factor * (param_bytes if o.state == "relative" else 1))


def memory_parts(
    config: RunConfig, counts: Counts, precision: str, tokens: int, device_kind: str = "cpu"
) -> dict[str, int]:
    """Bytes by part: weights, gradients, optimizer states, activations (and the total)."""
    a, t = config.adapter, config.train
    compute = BYTES[precision]
    d = _dims(counts.config)
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
    else:
        param_bytes = 4  # PEFT keeps LoRA adapters in fp32 over a half-precision base
        parts["weights"] = counts.frozen_float * compute + counts.trainable * param_bytes
    parts["gradients"] = counts.trainable * param_bytes
    parts["optimizer"] = _optimizer_bytes(t.optim, counts.trainable, param_bytes)
    parts["activations"] = _activation_bytes(config, d, precision, tokens, device_kind)
    parts["total"] = sum(parts.values())
    return parts


def rows_per_example(config: RunConfig) -> int:
    """Sequences one example becomes in a micro-batch: chosen and rejected for the pairwise methods
    (DPO, ORPO, reward model), the answer and its mismatched KL partner for KTO, the group for GRPO
    (a rough allowance: GRPO's sequences are prompt plus max_completion_length, counted as max_length)."""
    method = config.train.method
    if method == "grpo":
        return config.grpo.num_generations
    return 2 if method in ("dpo", "orpo", "reward", "kto") else 1


def microbatch_tokens(config: RunConfig, length: int | None = None) -> int:
    """Tokens in the longest micro-batch: batch x length, doubled for DPO (chosen and rejected).

    ``length`` is the longest sequence: max_length before the data is read, or the longest
    rendered example once it is (never more than max_length).
    """
    t = config.train
    length = min(t.max_length, length or t.max_length)
    return t.batch_size * length * rows_per_example(config)


def estimate(config: RunConfig, device: DeviceInfo | None = None, length: int | None = None) -> Estimate:
    """Parameters and memory of a run; raises ValueError naming the model when it cannot be read.

    ``length``: the longest example of the data, when known (else every sequence is assumed
    to fill max_length, the worst case).
    """
    device = device or detect()
    precision = resolve_precision(config.model.precision, device)
    counts = count_parameters(config)
    tokens = microbatch_tokens(config, length)
    parts = memory_parts(config, counts, precision, tokens, device.kind)
    bound = f"longest example {length}" if length and length < config.train.max_length else "max_length"
    notes = [
        f"activations: an allowance for {tokens} tokens per micro-batch "
        f"({config.train.batch_size} x {bound} {tokens // config.train.batch_size // rows_per_example(config)}"
        + (f" x {rows_per_example(config)} sequences per example" if rows_per_example(config) > 1 else "")
        + ("; gradient checkpointing on" if config.train.gradient_checkpointing else "")
        + ")",
        "excludes the runtime itself (CUDA context ~0.5 GiB, or the Python process on CPU)",
    ]
    method = config.train.method
    keeps_reference = method in ("dpo", "kto") or (method == "grpo" and config.grpo.kl_beta > 0)
    if keeps_reference and config.adapter.adapter == "full":
        ref = counts.total * compute_bytes(precision)
        parts["reference"] = ref
        parts["total"] += ref
        notes.append(f"full {method.upper()} keeps a frozen reference copy of the model")
    if method in ("orpo", "kto", "reward", "grpo"):
        notes.append(f"{method.upper()}: a rough figure from the SFT/DPO model of memory, not measured for it")
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
    )


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
    level = _level(est.total_bytes, free)
    where = f"{free / GIB:.1f} GiB " + ("given" if free_bytes is not None else f"free on {device.kind}")
    message = f"{level}: needs about {est.total_bytes / GIB:.2f} GiB, {where}"
    if level == FITS:
        return Fit(level, free, message)
    suggestions = []
    for text, changed in _changes(config):
        try:
            total = estimate(changed, device).total_bytes
        except ValueError:
            continue
        if _level(total, free) == FITS:
            suggestions.append(f"{text}: about {total / GIB:.2f} GiB, fits")
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
