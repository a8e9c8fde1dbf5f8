"""Peak memory of LoRA, QLoRA and full fine-tuning beside the estimator's prediction.

Each method is measured in a fresh process by ``studio.train.peak_memory.compare_estimates`` (the same
code as ``python -m studio estimate --measure``): the process's peak memory, its runtime
included, against the estimate of runtime, weights, gradients, optimizer states and activations.
"""

from __future__ import annotations

from studio.train.peak_memory import compare_estimates


def memory_figures(model: str, quick: bool) -> dict:
    extra = ["--batch-size", "2", "--max-length", "128"] if quick else []
    out = {}
    # --quick measures LoRA alone: each method is a fresh process that loads and trains the model
    adapters = ("lora",) if quick else ("lora", "qlora", "full")
    for measured in compare_estimates(model, adapters, steps=2 if quick else 3, extra_args=extra):
        ratio = measured["estimated_bytes"] / measured["measured_bytes"] if measured["measured_bytes"] else None
        out[measured["adapter"]] = {
            "estimated_bytes": measured["estimated_bytes"],
            "measured_bytes": measured["measured_bytes"],
            "estimate_error_pct": round(measured["error_pct"], 1),
            "estimate_over_measured": round(ratio, 3) if ratio else None,
        }
    return out
