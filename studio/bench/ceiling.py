"""The machine's own ceilings, measured in the same run as the figures they bound.

    from studio.bench.ceiling import ceilings, training_fraction, decode_fraction
    c = ceilings("HuggingFaceTB/SmolLM2-135M-Instruct", "fp32")   # FLOPS at the model's shapes, bandwidth
    training_fraction(c, tokens_per_s=180.0, method="sft", adapter="lora")

Formulas, stated once for every section:

- *compute ceiling*: the matrix multiplies of one training pass at the model's own shapes: every
  ``nn.Linear`` (the output head included) as a weight of its own, on 512 rows, its forward and its
  backward's input-gradient product, in the run's precision; the best of 3 whole passes (seconds
  of sustained work, so a short burst of clock speed does not count). FLOPS = the passes' sum of
  2·rows·in·out over their time.
- *training FLOPs per token* = passes x 2·N, N = the parameters of the matrix multiplies
  (the model's parameters, a tied output head counted once, the embedding's lookup being free):
  LoRA and QLoRA 2 passes (forward, and backward through the frozen weights to the adapters),
  full fine-tuning 3 (the weights' own gradients too); one more forward for a frozen reference
  (the method table's ``reference``: DPO, KTO, GRPO with a KL term). Attention's score products (about 3% at 256 tokens for SmolLM2-135M) and the
  adapters' own small products are left out, so the fraction is slightly flattering at long rows.
- *training ceiling* (tokens/s) = FLOPS / FLOPs per token; *fraction* = tokens/s / ceiling.
- *bandwidth*: bytes/s of reading a buffer larger than any cache (``torch.sum`` of it, as torch's
  threads read), the best of ``repeats``.
- *decode ceiling* (tokens/s) = bandwidth / bytes of weights read per new token (every parameter,
  in the chat's dtype, once); *fraction* = decode tokens/s / ceiling. The KV cache read is left out.
- *which ceiling*: a shared host's FLOPS and bandwidth move within minutes (docs/benchmark-notes.md), so each
  training section and the chat are held to the mean of the ceilings measured just before and just
  after them (``ceiling_beside``); the ceiling section's figures, measured at the run's start, give
  ``fraction_of_start_ceiling`` beside each fraction.
"""

from __future__ import annotations

import time
from collections import Counter

import torch
from transformers import AutoModelForCausalLM

from studio.config import METHODS
from studio.models import loading
from studio.models.device import torch_dtype

# Passes of 2·N FLOPs per trained token: forward, backward to the inputs, [weight gradients].
PASSES = {"lora": 2, "qlora": 2, "full": 3}
COMPARED = ("sft", "dpo")  # benched beside plain TRL and the floor (throughput.compare); the rest alone


def linear_shapes(model: str) -> tuple[Counter, int, int]:
    """((in, out) -> how many ``nn.Linear`` of that shape, matrix-multiply parameters, the output
    head's parameters) of ``model``, built on the meta device (no weights read)."""
    config = loading.load_config(model)
    with torch.device("meta"):
        net = AutoModelForCausalLM.from_config(config)
    shapes: Counter = Counter()
    for module in net.modules():
        if isinstance(module, torch.nn.Linear):
            shapes[(module.in_features, module.out_features)] += 1
    params = sum(p.numel() for p in net.parameters())  # a tied head is one tensor, counted once
    head = net.get_output_embeddings()
    return shapes, params, head.in_features * head.out_features if head is not None else 0


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm: first-call allocation and kernel choice
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops(shapes: Counter, dtype: torch.dtype, rows: int = 512, repeats: int = 3) -> float:
    """FLOPS of one pass over every weight of ``shapes``, each its own tensor as in the model:
    the forward (x @ W.T) and input-gradient (g @ W) products, the best of ``repeats`` passes."""
    weights = [torch.randn(n_out, n_in, dtype=dtype) for (n_in, n_out), count in shapes.items() for _ in range(count)]
    inputs = {n_in: torch.randn(rows, n_in, dtype=dtype) for n_in, _ in shapes}
    grads = {n_out: torch.randn(rows, n_out, dtype=dtype) for _, n_out in shapes}

    def one_pass():
        with torch.no_grad():
            for weight in weights:
                torch.nn.functional.linear(inputs[weight.shape[1]], weight)
                torch.mm(grads[weight.shape[0]], weight)

    flops = sum(count * 2 * (2.0 * rows * n_in * n_out) for (n_in, n_out), count in shapes.items())
    return flops / _best_seconds(one_pass, repeats)


def read_bandwidth(megabytes: int = 512, repeats: int = 5) -> float:
    """Bytes/s of reading a ``megabytes`` fp32 buffer once (``torch.sum``)."""
    buffer = torch.ones(megabytes * 2**20 // 4, dtype=torch.float32)
    seconds = _best_seconds(lambda: buffer.sum(), repeats)
    return buffer.numel() * 4 / seconds


def ceilings(model: str, precision: str, quick: bool = False) -> dict:
    """The compute and bandwidth ceilings of this machine for ``model`` in ``precision``."""
    shapes, params, head = linear_shapes(model)
    dtype = torch.float32 if precision == "fp32" else torch_dtype(precision)
    flops = matmul_flops(shapes, dtype, rows=128 if quick else 512, repeats=1 if quick else 3)
    bandwidth = read_bandwidth(64 if quick else 512, repeats=2 if quick else 5)
    return {
        "precision": precision,
        "matmul_gflops": round(flops / 1e9, 1),
        "read_bandwidth_gb_s": round(bandwidth / 1e9, 2),
        "matmul_params": params,
        "head_params": head,
        "threads": torch.get_num_threads(),
    }


def flops_per_token(ceiling: dict, method: str = "sft", adapter: str = "lora", kl_beta: float = 0.0) -> float:
    """Training FLOPs per token (module docstring), from the method table: a frozen reference runs
    one more forward (DPO, KTO; GRPO when ``kl_beta`` > 0); a scorer (the reward model) has a
    1-wide score head instead of the vocabulary head."""
    row = METHODS[method]
    params = ceiling["matmul_params"] - (ceiling["head_params"] if row.scorer else 0)
    passes = PASSES[adapter] + (1 if row.keeps_reference(kl_beta) else 0)
    return passes * 2.0 * params


def training_fraction(ceiling: dict, tokens_per_s: float, method: str = "sft", adapter: str = "lora") -> dict:
    """The training ceiling in tokens/s and the share of it ``tokens_per_s`` reaches."""
    per_token = flops_per_token(ceiling, method, adapter)
    limit = ceiling["matmul_gflops"] * 1e9 / per_token
    return {"ceiling_tokens_per_s": round(limit, 1), "fraction_of_ceiling": _figure(tokens_per_s / limit)}


def _figure(value: float) -> float:
    """Four significant digits: a fraction of a few thousandths (the --quick tiny model) keeps them."""
    return float(f"{value:.4g}")


def decode_fraction(ceiling: dict, tokens_per_s: float, bytes_per_param: int) -> dict:
    """The decode ceiling (every weight read once per token) and the share ``tokens_per_s`` reaches."""
    limit = ceiling["read_bandwidth_gb_s"] * 1e9 / (ceiling["matmul_params"] * bytes_per_param)
    return {"ceiling_tokens_per_s": round(limit, 1), "fraction_of_ceiling": _figure(tokens_per_s / limit)}


def beside(before: dict, after: dict) -> dict:
    """A section's own ceiling: the mean of those measured just before and just after it."""
    out = {}
    for key in ("matmul_gflops", "read_bandwidth_gb_s"):
        out[key] = round((before[key] + after[key]) / 2, 2)
        out[f"{key}_before_after"] = [before[key], after[key]]
    return out


def _own(ceiling: dict, section: dict) -> dict:
    return {**ceiling, **{k: v for k, v in section.get("ceiling_beside", {}).items() if not k.endswith("_after")}}


def annotate(report: dict) -> None:
    """Put the fraction of its ceiling beside each throughput of ``report`` (in place): the
    training rows of sft and dpo (studio, floor, plain TRL), the other methods', and chat's decode.
    A method trained on prompts (GRPO) is left out: its step is mostly sampling, one token at a time."""
    ceiling = report.get("ceiling")
    if not ceiling or "error" in ceiling:
        return
    for method in COMPARED:
        own = _own(ceiling, report.get(method, {}))
        for row in ("studio", "floor", "plain_trl"):
            figures = report.get(method, {}).get(row)
            if isinstance(figures, dict) and "tokens_per_s" in figures:
                figures.update(training_fraction(own, figures["tokens_per_s"], method))
        if "studio" in report.get(method, {}):
            rate = report[method]["studio"]["tokens_per_s"]
            report[method]["fraction_of_ceiling"] = report[method]["studio"]["fraction_of_ceiling"]
            start = training_fraction(ceiling, rate, method)["fraction_of_ceiling"]
            report[method]["fraction_of_start_ceiling"] = start
    for method in (m for m, row in METHODS.items() if m not in COMPARED and row.rows != "prompt"):
        figures = report.get(method, {})
        if "tokens_per_s" in figures:
            figures.update(training_fraction(_own(ceiling, figures), figures["tokens_per_s"], method))
            start = training_fraction(ceiling, figures["tokens_per_s"], method)["fraction_of_ceiling"]
            figures["fraction_of_start_ceiling"] = start
    chat = report.get("chat", {})
    dtype = getattr(torch, chat.get("weights_dtype", ""), None)
    width = dtype.itemsize if isinstance(dtype, torch.dtype) else None
    for name in ("base", "adapter", "torch_base", "torch_adapter"):  # torch_*: beside llama.cpp's
        rate = chat.get(f"{name}_decode_tokens_per_s")
        if width and rate:
            fraction = decode_fraction(_own(ceiling, chat), rate, width)
            chat[f"{name}_decode_ceiling_tokens_per_s"] = fraction["ceiling_tokens_per_s"]
            chat[f"{name}_decode_fraction_of_ceiling"] = fraction["fraction_of_ceiling"]
            start = decode_fraction(ceiling, rate, width)["fraction_of_ceiling"]
            chat[f"{name}_decode_fraction_of_start_ceiling"] = start
