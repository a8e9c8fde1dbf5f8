"""Attention of a padding-free batch one sequence at a time, where no varlen kernel exists (a CPU).

A padding-free batch is one row holding every example end to end, each restarting its
``position_ids`` at 0. Transformers' ``sdpa`` attention then builds one block-diagonal causal mask
over the whole row and SDPA computes every block, the ones the mask throws away included: for 4
examples of ~180 tokens, 16 blocks computed where 4 carry. On a GPU, FlashAttention's varlen kernel
does this natively; on a CPU SDPA has no varlen form, so this runs SDPA once per example, causal
and without a mask, and concatenates the results: the same numbers (tests/test_packed_attention.py:
losses and gradients against ``sdpa``), a fraction of the work.

What it saves: ``python -m studio bench --only sft`` against ``STUDIO_PACKED_ATTENTION=0``; the
profile that found attention's share of a step is in docs/benchmark-notes.md.

A layer with a sliding window (Mistral, Qwen2/3, Gemma 3, Phi-3, SmolLM3) attends within its
window inside each example, as transformers' own masks draw it (tests/test_families.py: every
family's logits against each example run alone, with sharp attention). Anything else (a padded
batch, a KV cache, one example, sinks or soft-capped scores) goes to transformers' ``sdpa`` unchanged.

    from studio.patches.packed_attention import use_packed_attention
    use_packed_attention(model)   # the model trains padding-free batches one example at a time
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask

from studio.patches import enabled

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
    # attention sinks (s_aux) and logit soft-capping change the scores: sdpa's path decides for those
    plain_scores = kwargs.get("s_aux") is None and kwargs.get("softcap") is None
    if (
        key.shape[2] == length
        and kwargs.get("past_key_values") is None
        and getattr(module, "is_causal", True)
        and plain_scores
    ):
        bounds = segments(kwargs.get("position_ids"), length)
    if bounds is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    window = kwargs.get("sliding_window")
    rest = {k: v for k, v in kwargs.items() if k not in ("position_ids", "is_causal", "sliding_window")}
    # split, not slices: backward joins the pieces' gradients once instead of zero-filling a
    # full-size gradient per slice
    sizes = [e - s for s, e in bounds]
    pieces = zip(query.split(sizes, dim=2), key.split(sizes, dim=2), value.split(sizes, dim=2), strict=True)
    outputs = []
    for q, k, v in pieces:
        mask = window_mask(q.shape[2], window, q.device)
        outputs.append(
            sdpa_attention_forward(module, q, k, v, mask, dropout, scaling, is_causal=mask is None, **rest)[0]
        )
    return torch.cat(outputs, dim=1), None  # [batch, tokens, heads, head_dim], as sdpa returns


def window_mask(length: int, window: int | None, device) -> torch.Tensor | None:
    """The causal sliding-window mask of one example (True: attend), as transformers' masks draw it:
    token i sees token j when i - window < j <= i. None where the window covers the example: plain
    causal attention, which SDPA computes without a mask."""
    if window is None or length <= window:
        return None
    index = torch.arange(length, device=device)
    distance = index[:, None] - index[None, :]
    return ((distance >= 0) & (distance < window))[None, None]


def register() -> str:
    """Register the attention (and sdpa's masks for it) with transformers, once; its name."""
    if NAME not in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping:
        AttentionInterface.register(NAME, packed_sdpa_attention)
        AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def use_packed_attention(model) -> bool:
    """Switch ``model`` (sdpa attention, on a CPU) to the per-example form; False if it is not sdpa,
    or the path is off for its family or transformers' version (studio.patches)."""
    if getattr(model.config, "_attn_implementation", None) != "sdpa" or not enabled("packed_attention", model):
        return False
    model.set_attn_implementation(register())
    return True
