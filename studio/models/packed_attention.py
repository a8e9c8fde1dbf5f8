"""Attention of a padding-free batch one sequence at a time, where no varlen kernel exists (a CPU).

A padding-free batch is one row holding every example end to end, each restarting its
``position_ids`` at 0. Transformers' ``sdpa`` attention then builds one block-diagonal causal mask
over the whole row and SDPA computes every block, the ones the mask throws away included: for 4
examples of ~180 tokens, 16 blocks computed where 4 carry. On a GPU, FlashAttention's varlen kernel
does this natively; on a CPU SDPA has no varlen form, so this runs SDPA once per example, causal
and without a mask, and concatenates the results: the same numbers (tests/test_packed_attention.py:
losses and gradients against ``sdpa``), a fraction of the work.

Measured on the embedded model (bench SFT job, LoRA r8 all-linear, batch 4, max length 256, fp32,
2 cores AVX2): attention took 19% of a step's CPU time under ``sdpa``; see BENCHMARKS.md.

Anything else (a padded batch, a KV cache, one example) goes to transformers' ``sdpa`` unchanged.

    from studio.models.packed_attention import use_packed_attention
    use_packed_attention(model)   # the model trains padding-free batches one example at a time
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask

NAME = "studio_packed_sdpa"


def segments(position_ids: torch.Tensor | None, length: int) -> list[tuple[int, int]] | None:
    """[(start, end)] of the examples in a one-row padding-free batch; None when it is not one
    (several rows, no positions, or a single example)."""
    if position_ids is None or position_ids.dim() != 2 or position_ids.shape[0] != 1:
        return None
    positions = position_ids[0]
    if positions.shape[0] != length:
        return None
    starts = (torch.diff(positions, prepend=positions[:1] - 1) != 1).nonzero().flatten().tolist()
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    if len(starts) == 1:
        return None
    return list(zip(starts, [*starts[1:], length], strict=True))


def packed_sdpa_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """``sdpa_attention_forward``, split per example on a padding-free batch (module docstring)."""
    length = query.shape[2]
    bounds = None
    if key.shape[2] == length and kwargs.get("past_key_values") is None and getattr(module, "is_causal", True):
        bounds = segments(kwargs.get("position_ids"), length)
    if bounds is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    rest = {k: v for k, v in kwargs.items() if k not in ("position_ids", "is_causal")}
    # split, not slices: backward joins the pieces' gradients once instead of zero-filling a
    # full-size gradient per slice
    sizes = [e - s for s, e in bounds]
    pieces = zip(query.split(sizes, dim=2), key.split(sizes, dim=2), value.split(sizes, dim=2), strict=True)
    outputs = [
        sdpa_attention_forward(module, q, k, v, None, dropout, scaling, is_causal=True, **rest)[0] for q, k, v in pieces
    ]
    return torch.cat(outputs, dim=1), None  # [batch, tokens, heads, head_dim], as sdpa returns


def register() -> str:
    """Register the attention (and sdpa's masks for it) with transformers, once; its name."""
    if NAME not in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping:
        AttentionInterface.register(NAME, packed_sdpa_attention)
        AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def use_packed_attention(model) -> bool:
    """Switch ``model`` (sdpa attention, on a CPU) to the per-example form; False if it is not sdpa."""
    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return False
    model.set_attn_implementation(register())
    return True
