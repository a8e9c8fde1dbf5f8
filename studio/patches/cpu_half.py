"""fp16 weights on a CPU: keep what is fast in fp16, compute the rest in fp32.

Decoding reads every weight once per token, so it is bound by memory bandwidth, and PyTorch's
fp16 matrix-vector kernel (converting to fp32 on the fly, accumulating in fp32) reads half the
bytes of fp32. Two other kernels are slow in fp16 on x86 CPUs without AVX512-FP16, so they run
in fp32 from the same values (fp16 -> fp32 is exact)::

    prepare_half_on_cpu(model)   # once, after loading the fp16 model on the CPU

- matrix-matrix products (a prompt of a few dozen tokens, an evaluation batch): several times
  slower in fp16; each Linear computes passes of several tokens in fp32 and single tokens in fp16;
- attention (scaled dot-product): several times slower in fp16 at every layer of every token;
  queries, keys and values are upcast for the call, through a registered transformers attention
  function with the sdpa mask.

The chat's figures with it: ``python -m studio bench --only chat`` (BENCHMARKS.md).
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from studio.patches import enabled

ATTENTION = "sdpa_fp32_compute"


def _linear_forward(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if x.numel() == x.shape[-1]:  # one token: the fp16 matrix-vector kernel
        return F.linear(x, self.weight, self.bias)
    bias = None if self.bias is None else self.bias.float()
    return F.linear(x.float(), self.weight.float(), bias).to(x.dtype)


def _head_forward(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """The vocabulary projection: as above, but logits of several tokens stay fp32 (evaluation
    scores them; fp16 would round a logit of 20 to steps of 0.016)."""
    if x.numel() == x.shape[-1]:
        return F.linear(x, self.weight, self.bias)
    bias = None if self.bias is None else self.bias.float()
    return F.linear(x.float(), self.weight.float(), bias)


def _attention(module, query, key, value, attention_mask, **kwargs):
    if query.dtype != torch.float16:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    out, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask, **kwargs)
    return out.to(torch.float16), weights


def _register_attention() -> None:
    AttentionInterface.register(ATTENTION, _attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)


def prepare_half_on_cpu(model) -> int:
    """Route the model's Linear layers and attention through the paths above; returns how many
    Linear layers. A no-op (0) unless the model is fp16 on the CPU."""
    if model.dtype != torch.float16 or model.device.type != "cpu" or not enabled("cpu_half", model):
        return 0
    head = model.get_output_embeddings()
    count = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.forward = types.MethodType(_head_forward if module is head else _linear_forward, module)
            count += 1
    if getattr(model.config, "_attn_implementation", None) == "sdpa":
        _register_attention()
        model.set_attn_implementation(ATTENTION)
    return count
