"""What a training step keeps for backward: the decoder layers, the attention mask and the head.

    activation_bytes(config, dims(model_config), "fp32", tokens, "cpu")    # bytes at the step's peak

``studio.train.estimate`` adds these to the weights, gradients and optimizer states. The decoder
layers are counted from the architecture (checked with torch's saved-tensor hooks to a few
percent); the output head depends on the method: the method table's ``head`` (studio.config.method_table).
"""

from __future__ import annotations

from studio.config import DTYPES, METHODS, RunConfig

BYTES = {name: dtype.bytes for name, dtype in DTYPES.items()}  # fp32 4, bf16 2, fp16 2
LOGPROB_TILE = (4096, 32768)  # TRL's chunked LM head: tokens x vocabulary columns per tile
# On CUDA TRL's Triton kernel holds a handful of fp32 tile-sized buffers at once in its backward.
HEAD_TILES_CUDA = 3
# glibc's heap keeps the blocks one step freed and the next step cannot always reuse them: the
# second step's peak on the embedded model (LoRA, quick preset) was 0.2-0.35 GiB above the first's,
# about a fifth of the step's activations again. The stated margin for it:
ALLOCATOR_SHARE = 0.2


def dims(cfg) -> dict:
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


def rows_per_example(config: RunConfig) -> int:
    """Sequences of one example whose activations are kept for backward in a micro-batch: the
    method table's ``sequences`` (chosen and rejected for the pairwise methods, GRPO's group).
    Every reference pass runs without a gradient: its activations are dropped layer by layer."""
    return METHODS[config.train.method].sequences_per_example(config.grpo.num_generations)


def layer_bytes(d: dict, act: int, residual: int, masked: bool) -> int:
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


def mask_bytes(config: RunConfig, act: int, layers: int, tokens: int) -> int:
    """The attention mask SDPA keeps per layer: tokens^2 for padding-free rows, rows x length^2 padded."""
    t = config.train
    rows = t.batch_size * rows_per_example(config)
    if t.method == "sft" and (t.padding_free or t.packing):
        return layers * act * tokens**2
    return layers * act * rows * (tokens // rows) ** 2


def head_bytes(config: RunConfig, d: dict, residual: int, tokens: int, device_kind: str, labelled: int) -> int:
    """The final norm's output and its fp32 copy, and the logits as the method's head holds them
    (``labelled``: tokens the head projects when it projects only the labelled ones)."""
    head = METHODS[config.train.method].head
    if device_kind == "cuda" and head.chunked_on_cuda:
        logits = min(tokens, LOGPROB_TILE[0]) * min(d["vocab"], LOGPROB_TILE[1]) * 4 * HEAD_TILES_CUDA
    else:
        projected = min(labelled, tokens) if head.labelled_only and labelled else tokens
        logits = projected * d["vocab"] * 4 * head.vocab_buffers
    return tokens * d["h"] * (residual + 4) + logits


def lora_branch_bytes(config: RunConfig, d: dict, act: int) -> int:
    """What each decoder layer's LoRA branches keep for backward, per token: with dropout, each
    adapted Linear's dropped-out copy of its input and the dropout's mask (a byte a value); always
    the rank-r output of lora_A. (On the embedded model with all-linear targets the copies are as
    large as the layer's own activations.)"""
    a = config.adapter
    if a.adapter == "full":
        return 0
    inputs = d.get("adapted_inputs", 0)
    dropped = inputs * (act + 1) if a.lora_dropout > 0 else 0
    return dropped + d.get("adapted", 0) * a.lora_r * act


def activation_bytes(
    config: RunConfig, d: dict, precision: str, tokens: int, device_kind: str, labelled: int = 0
) -> int:
    """Bytes kept for backward by a micro-batch of ``tokens`` (``labelled`` of them labelled; 0: all)."""

    act = BYTES[precision]
    # fp32 master weights (full) and PEFT's fp32 upcast of embeddings and norms (QLoRA) keep the
    # residual stream in fp32 under autocast.
    residual = 4 if config.adapter.adapter in ("full", "qlora") else act
    per_layer = layer_bytes(d, act, residual, masked=True)
    per_layer += lora_branch_bytes(config, d, act)
    if config.adapter.adapter == "qlora" and residual != act:
        # PEFT casts each adapted layer's fp32 input to the adapters' half precision and keeps
        # the copy for backward (q, k, v, gate and up each take their own copy of h values).
        per_layer += act * (5 * d["h"] + d["q"] + d["i"])
    if config.train.gradient_checkpointing:
        stored = d["layers"] * residual * d["h"] * tokens + per_layer * tokens
        mask = mask_bytes(config, act, 1, tokens)
    else:
        stored = d["layers"] * per_layer * tokens
        mask = mask_bytes(config, act, d["layers"], tokens)
    kept = stored + mask + head_bytes(config, d, residual, tokens, device_kind, labelled)
    return int(kept * (1 + ALLOCATOR_SHARE))
