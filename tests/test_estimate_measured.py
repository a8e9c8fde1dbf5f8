"""The memory estimate against the peak the process really reaches, for every method and adapter.

Each case trains two steps in a fresh process (``python -m studio estimate --measure``, through
``compare_estimates``), so the peak is of that process alone: its runtime (Python, torch and the
libraries), the model, and the training step. The estimate must not promise less than that
(admission trusts it) nor ask for much more (a run that fits would be refused): the estimate is
planned as the studio plans a run (the longest example of the data, its labelled tokens), the
figure admission and the status line show.
"""

from __future__ import annotations

import pytest

from .conftest import REAL_DATA, ROOT

BAND = (1.0, 1.5)  # estimate / measured peak
DPO_DATA = str(ROOT / "assets" / "sample_dpo.jsonl")
METHOD_ARGS = {
    "sft": ["--dataset", str(ROOT / "assets" / "sample_sft.jsonl")],
    "dpo": ["--dataset", DPO_DATA],
    "orpo": ["--dataset", DPO_DATA],
    "reward": ["--dataset", DPO_DATA],
    "kto": ["--dataset", str(REAL_DATA / "kto_en_demo.json")],
    "grpo": ["--dataset", str(ROOT / "assets" / "arithmetic_grpo.jsonl"), "--batch-size", "2"]
    + ["--num-generations", "2", "--max-completion-length", "8", "--reward-format", "1"]
    + ["--reward-length", "1", "--length-target", "400"],
}
# Each case is a fresh training process (~30 s on two cores): CI measures one per adapter (sft lora
# is the smoke case) and GRPO, whose sampling differs most; ``bash test.sh --all`` measures them all
# (DPO's pairs are measured there, with ORPO's, KTO's and the reward model's).
HEAVY = pytest.mark.heavy
CASES = [
    pytest.param("sft", "lora", marks=pytest.mark.smoke),
    ("sft", "qlora"),
    ("sft", "full"),
    pytest.param("dpo", "lora", marks=HEAVY),
    pytest.param("dpo", "full", marks=HEAVY),
    pytest.param("kto", "lora", marks=HEAVY),
    pytest.param("orpo", "lora", marks=HEAVY),
    pytest.param("reward", "lora", marks=HEAVY),
    ("grpo", "lora"),
]


def ratio_of(check: dict) -> float:
    return check["estimated_bytes"] / check["measured_bytes"]


@pytest.mark.cli
@pytest.mark.parametrize(("method", "adapter"), CASES)
def test_the_estimate_is_within_the_band_of_the_process_peak(tiny_model_dir, method, adapter):
    from studio.train.peak_memory import compare_estimates

    extra = ["--precision", "fp32", "--batch-size", "4", "--max-length", "128", "--max-rows", "24"]
    extra += ["--method", method, *METHOD_ARGS[method]]
    (check,) = compare_estimates(str(tiny_model_dir), adapters=(adapter,), steps=2, extra_args=extra)
    assert (check["method"], check["adapter"]) == (method, adapter)
    assert check["parts"]["runtime"] > 0  # the process itself counts: admission compares with machine memory
    ratio = ratio_of(check)
    assert BAND[0] <= ratio <= BAND[1], f"{method} {adapter}: estimate / peak = {ratio:.2f}, outside {BAND}: {check}"


@pytest.mark.cli
@pytest.mark.heavy
@pytest.mark.parametrize("adapter", ["lora", "qlora"])
def test_the_quick_preset_on_the_embedded_model_is_within_the_band(tmp_path, adapter):
    from studio.train.peak_memory import compare_estimates
    from studio.train.presets import config_text

    config = tmp_path / "quick.yaml"
    config.write_text(config_text("quick_lora_sft.yaml").replace("assets/", f"{ROOT}/assets/"))
    (check,) = compare_estimates("smollm2-135m-instruct", (adapter,), steps=2, extra_args=["--config", str(config)])
    ratio = ratio_of(check)
    assert BAND[0] <= ratio <= BAND[1], f"quick preset {adapter}: estimate / peak = {ratio:.2f}: {check}"


# Every family with LoRA and QLoRA (issue 27: the estimate keeps admission's promise on the families
# people bring, not only on Llama's shapes). CI measures one: Gemma 3 with QLoRA, the family whose
# shapes differ most from Llama's (its own norms, a 256-wide head) under the adapter the estimate knew
# least; the rest under heavy.
FAMILY_CASES = [
    pytest.param(family, adapter, marks=() if (family, adapter) == ("gemma3_text", "qlora") else HEAVY)
    for family in ("llama", "mistral", "qwen2", "qwen3", "gemma3_text", "phi3", "smollm3", "olmo2", "granite")
    for adapter in ("lora", "qlora")
]


@pytest.mark.cli
@pytest.mark.parametrize(("family", "adapter"), FAMILY_CASES)
def test_the_estimate_is_within_the_band_for_every_family(tmp_path, family, adapter):
    from studio.bench.tiny import make_tiny_model
    from studio.train.peak_memory import compare_estimates

    folder = make_tiny_model(tmp_path / family, family)
    extra = ["--precision", "fp32", "--batch-size", "4", "--max-length", "128", "--max-rows", "24"]
    extra += ["--method", "sft", *METHOD_ARGS["sft"]]
    (check,) = compare_estimates(str(folder), adapters=(adapter,), steps=2, extra_args=extra)
    ratio = ratio_of(check)
    print(f"\n{family} {adapter}: estimate / peak = {ratio:.2f}")
    assert BAND[0] <= ratio <= BAND[1], f"{family} {adapter}: estimate / peak = {ratio:.2f}, outside {BAND}: {check}"
