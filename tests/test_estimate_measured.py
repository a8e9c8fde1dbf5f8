"""The memory estimate against a measured peak on the tiny model, within a stated band.

Each adapter trains two steps in a fresh process (``python -m studio estimate --measure``, through
``compare_estimates``), so the peak is of that training alone. On the tiny model the activations
(chiefly the logits over the 49k-token vocabulary) dominate, and the estimate is meant to err high,
never low: an estimate under the peak would promise a fit that runs out of memory. Measured on a
2-core CPU at max_length 128-512 the estimate is 1.3-2.0x the peak (RSS sampling varies by ~25%),
hence the band below; a term counted twice or dropped leaves it.
"""

from __future__ import annotations

import pytest

BAND = (1.0, 2.5)  # estimate / measured peak


@pytest.mark.cli
@pytest.mark.heavy
def test_the_estimate_is_at_or_above_the_measured_peak_and_within_the_band(tiny_model_dir):
    from studio.train.peak_memory import compare_estimates

    extra = ["--precision", "fp32", "--batch-size", "4", "--max-length", "256"]
    checks = compare_estimates(str(tiny_model_dir), adapters=("lora", "full"), steps=2, extra_args=extra)
    assert [c["adapter"] for c in checks] == ["lora", "full"]
    for check in checks:
        ratio = check["estimated_bytes"] / check["measured_bytes"]
        assert BAND[0] <= ratio <= BAND[1], f"{check['adapter']}: estimate / measured = {ratio:.2f}, outside {BAND}"
    lora, full = checks
    # Full fine-tuning adds gradients and optimizer states for every weight: the estimate says so.
    assert full["estimated_bytes"] > lora["estimated_bytes"]
