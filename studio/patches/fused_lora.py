"""LoRA as one matrix product per layer on a CPU: ``x @ (W + s·B·A)ᵀ`` with its own backward.

PEFT computes a LoRA layer as ``base(x) + B(A(x)) * s``: besides the base product, two rank-r
products of the whole batch, an elementwise scale and add, and in backward four more rank-r
products, whose default layouts are slow on a CPU (``gradᵀ @ (x Aᵀ)`` for B's gradient is several
times slower than the same product as ``((x Aᵀ)ᵀ @ grad)ᵀ``).
Here the forward adds ``s·B·A`` to the frozen weight (an ``out x in`` product of rank r, cheap
beside the batch's) and multiplies once; the backward rebuilds that weight for the input's
gradient and computes A's and B's gradients in the fast layouts. Same numbers within fp32
rounding (tests/test_fused_lora.py: losses and gradients against PEFT's path on the tiny and
the embedded model).

What it saves a step: ``python -m studio bench --only sft`` against ``STUDIO_FUSED_LORA=0``;
the per-layer timings that chose it are in docs/benchmark-notes.md.

Used only where it is the same computation: a plain ``nn.Linear`` base with fp32 weights (in
bf16, ``W + s·B·A`` would round the adapter's update to the base weight's 8 bits), one active
vanilla LoRA adapter (no DoRA), no dropout on its input, a frozen base, no autocast, and a pass
of at least ``MIN_ROWS`` tokens (one token, as in generation, is cheaper through PEFT than
rebuilding the weight). Anything else goes through PEFT's own forward unchanged.

    from studio.patches.fused_lora import fuse_lora
    fuse_lora(model)   # the number of LoRA layers that now take this path where they can
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from peft.tuners.lora.layer import Linear as LoraLinear

from studio.patches import enabled

MIN_ROWS = 64


class _FusedLoraLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, lora_a, lora_b, scaling: float):
        ctx.save_for_backward(x, weight, lora_a, lora_b)
        ctx.scaling = scaling
        return F.linear(x, torch.addmm(weight, lora_b, lora_a, alpha=scaling), bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight, lora_a, lora_b = ctx.saved_tensors
        s = ctx.scaling
        grad_x = grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad @ torch.addmm(weight, lora_b, lora_a, alpha=s)
        grad2, x2 = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        if ctx.needs_input_grad[4]:
            grad_b = ((x2 @ lora_a.t()).t() @ grad2).t().mul_(s)  # s · gradᵀ (x Aᵀ), in the fast layout
        if ctx.needs_input_grad[3]:
            grad_a = ((lora_b.t() @ grad2.t()) @ x2).mul_(s)  # s · (grad B)ᵀ x
        return grad_x, None, None, grad_a, grad_b, None


def _single_adapter(layer):
    """The one active vanilla adapter of ``layer`` without dropout, or None."""
    active = [name for name in layer.active_adapters if name in layer.lora_A]
    if len(active) != 1:
        return None
    name = active[0]
    if name in getattr(layer, "lora_variant", {}) or not isinstance(layer.lora_dropout[name], torch.nn.Identity):
        return None
    return name


def _forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    name = None
    base = self.base_layer
    if not (args or kwargs or self.disable_adapters or self.merged) and x.dim() >= 2:
        if x.numel() // x.shape[-1] >= MIN_ROWS and x.dtype == base.weight.dtype == torch.float32:
            name = _single_adapter(self)
    frozen = not base.weight.requires_grad and (base.bias is None or not base.bias.requires_grad)
    if name is None or not frozen or torch.is_autocast_enabled(x.device.type):
        return self._peft_forward(x, *args, **kwargs)
    a, b = self.lora_A[name].weight, self.lora_B[name].weight
    if a.dtype != torch.float32 or b.dtype != torch.float32:
        return self._peft_forward(x, *args, **kwargs)
    return _FusedLoraLinear.apply(x, base.weight, base.bias, a, b, float(self.scaling[name]))


def fuse_lora(model) -> int:
    """Route every LoRA ``Linear`` of ``model`` over a plain fp32 ``nn.Linear`` through the fused
    product (module docstring); returns how many. Idempotent. ``STUDIO_FUSED_LORA=0`` turns it
    off (0), to compare with PEFT's path."""
    if not enabled("fused_lora", model):
        return 0
    count = 0
    for module in model.modules():
        if type(module) is not LoraLinear or type(module.base_layer) is not torch.nn.Linear:
            continue
        if module.base_layer.weight.dtype != torch.float32:
            continue
        if "_peft_forward" not in module.__dict__:
            module._peft_forward = module.forward
            module.forward = types.MethodType(_forward, module)
        count += 1
    return count
