"""Padded batches computed without their padding, where attention runs one example at a time (a CPU).

DPO, KTO, ORPO, the reward model and GRPO's scoring pass hand the model padded rows: TRL's collators
pad every row of a batch (DPO: chosen and rejected together) to the longest, and TRL 1.16 turns
DPO's own padding-free option off, so part of what the model computes is padding
(docs/benchmark-notes.md says how much of the DPO bench job). Here the decoder (the transformer body
under the head) takes such a batch, runs only its real tokens as one padding-free row (each example
keeping its positions; studio.patches.packed_attention then attends within each example), and puts
the hidden states back where the rows had them, zeros at the padding. The heads and every loss then
see the padded layout they asked for, and the positions they read hold the same numbers within fp32
rounding (tests/test_unpadded.py: hidden states, losses and gradients against the padded pass).

Only where that is the same computation: token ids with a 2-D attention mask
that has padding, each row's tokens one contiguous run, no KV cache (generation keeps its own
path), no per-layer outputs asked for, and the model on the per-example attention. Anything else
goes to the decoder unchanged. ``STUDIO_UNPAD=0`` turns it off, to compare.

    from studio.patches.unpadded import unpad_batches
    unpad_batches(model)   # True when the model's decoder now skips padding
"""

from __future__ import annotations

import functools
import inspect
import types

import torch

from studio.patches import enabled
from studio.patches.packed_attention import NAME as PACKED_ATTENTION
from studio.patches.packed_attention import segments


def _real_tokens(kwargs: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(mask of the real tokens, their positions) when this call can skip its padding; else None."""
    ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
    if not isinstance(ids, torch.Tensor) or not isinstance(mask, torch.Tensor) or ids.dim() != 2:
        return None
    if mask.shape != ids.shape or kwargs.get("inputs_embeds") is not None:
        return None
    if kwargs.get("past_key_values") is not None or kwargs.get("use_cache") or kwargs.get("cache_position") is not None:
        return None
    if kwargs.get("output_hidden_states") or kwargs.get("output_attentions"):
        return None
    keep = mask.bool()
    counts = keep.sum(dim=1)
    if bool(keep.all()) or not bool((counts > 0).all()):
        return None
    columns = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
    first = torch.where(keep, columns, ids.shape[1]).min(dim=1).values
    last = torch.where(keep, columns, -1).max(dim=1).values
    if not bool((last - first + 1 == counts).all()):  # a gap inside a row: not one sequence
        return None
    positions = kwargs.get("position_ids")
    positions = columns if positions is None else positions.expand_as(ids)  # the decoder's default: 0..L-1
    flat = positions[keep]
    # the per-example attention finds the examples from the positions alone: they must come out as
    # the rows (two rows joining into one sequence, or a row's own positions jumping, would not)
    ends = counts.cumsum(0).tolist()
    rows = list(zip([0, *ends[:-1]], ends, strict=True))
    if segments(flat[None], len(flat)) != (rows if len(rows) > 1 else None):
        return None
    return keep, flat


def unpad_batches(model) -> bool:
    """Make ``model``'s decoder skip the padding of padded batches (module docstring). Idempotent;
    False where it does not apply (not on the per-example attention) or ``STUDIO_UNPAD=0``."""
    if hasattr(model, "get_base_model"):  # a PeftModel: the transformers model under the adapters
        model = model.get_base_model()
    if getattr(model.config, "_attn_implementation", None) != PACKED_ATTENTION or not enabled("unpadded", model):
        return False
    decoder = model.get_decoder()
    if "_padded_forward" not in decoder.__dict__:
        # bound methods, not closures: a deep copy of the model (a frozen reference) runs its own weights
        decoder._padded_forward = decoder.forward
        decoder.forward = types.MethodType(_forward, decoder)
    return True


@functools.cache
def _parameters(cls) -> list[str]:
    """The names ``cls.forward`` takes by position, after self."""
    params = list(inspect.signature(cls.forward).parameters.values())[1:]
    return [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]


def _forward(self, *args, **kwargs):
    if args:  # a head passing the ids by position (the reward model's sequence classifier)
        names = _parameters(type(self))
        if len(args) > len(names):
            return self._padded_forward(*args, **kwargs)
        kwargs = {**dict(zip(names, args, strict=False)), **kwargs}
    found = _real_tokens(kwargs)
    if found is None:
        return self._padded_forward(**kwargs)
    keep, positions = found
    ids = kwargs.pop("input_ids")
    kwargs.pop("attention_mask")
    kwargs.pop("position_ids", None)
    out = self._padded_forward(input_ids=ids[keep][None], attention_mask=None, position_ids=positions[None], **kwargs)
    hidden = out.last_hidden_state[0]
    out.last_hidden_state = hidden.new_zeros(*ids.shape, hidden.shape[-1]).masked_scatter(keep[..., None], hidden)
    return out
