"""Every supported family trains as the plain libraries would: the studio's fast paths change speed, never numbers.

Tiny random models of each family in studio.models.families (built offline from transformers'
config classes, with the real SmolLM2 tokenizer) with sharp attention, so that what a token may
see moves the loss, and sliding windows (8 tokens) shorter than the examples. Tolerances: logits
within 1e-4 (fp32), losses within a relative 1e-4, adapter weights after two steps within a
relative 1e-3 of the same steps with every fast path off (``STUDIO_FASTPATHS=0``: plain
transformers + PEFT + TRL).
"""

from __future__ import annotations

import pytest
import torch

from studio.bench.tiny import make_tiny_model
from studio.models import loading
from studio.models.families import FAMILIES
from studio.patches.packed_attention import NAME as PACKED
from studio.patches.packed_attention import use_packed_attention
from studio.schema import ConfigError
from studio.train.plan import plan_run
from studio.train.trainer import build_trainer

from .conftest import tiny_recipe
from .test_methods_rl import configure

LENGTHS = [23, 9, 31, 17]  # three of four examples longer than the window


@pytest.fixture(scope="session")
def family_dir(tmp_path_factory, embedded_dir):
    made = {}

    def make(family: str):
        if family not in made:
            made[family] = make_tiny_model(tmp_path_factory.mktemp(family), family, sharp=8.0)
        return made[family]

    return make


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_padding_free_batches_attend_as_each_example_alone(family_dir, family):
    model = loading.load_model(str(family_dir(family)), torch.float32).eval()
    model.config.use_cache = False
    assert use_packed_attention(model) and model.config._attn_implementation == PACKED
    ids = torch.randint(0, 49152, (1, sum(LENGTHS)), generator=torch.Generator().manual_seed(0))
    positions = torch.cat([torch.arange(n) for n in LENGTHS])[None]
    with torch.no_grad():
        together = model(input_ids=ids, position_ids=positions).logits
        pieces = ids.split(LENGTHS, dim=1)
        alone = torch.cat([model(input_ids=piece).logits for piece in pieces], dim=1)
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-4)


def _train(config, tmp_path, monkeypatch, fast: bool):
    monkeypatch.setenv("STUDIO_FASTPATHS", "1" if fast else "0")
    trainer = build_trainer(plan_run(config), str(tmp_path / ("fast" if fast else "plain")))
    net = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
    assert (net.config._attn_implementation == PACKED) == fast  # the comparison is of the two paths
    trainer.train()
    losses = [m["loss"] for m in trainer.state.log_history if "loss" in m]
    weights = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    return losses, weights


def _assert_same_training(fast, plain, config):
    """Same losses (rel 1e-4) and, after the steps, the same trained weights: every tensor within 1e-3
    of its norm once its 1% most different elements are set aside, and those within the steps' size.
    Adam divides each element's step by that element's own gradient size, so where a gradient is
    about 0 rounding noise moves the element by up to the learning rate either way (reward on olmo2:
    one element of 256 in a LoRA B by 2.9e-5 while the others agree to 4e-8, losses to 1e-9)."""
    (losses_a, weights_a), (losses_b, weights_b) = fast, plain
    assert len(losses_a) == 2 and losses_a == pytest.approx(losses_b, rel=1e-4)
    assert weights_a.keys() == weights_b.keys() and weights_a
    lr = config.train.learning_rate
    for name in weights_a:
        diff = (weights_a[name] - weights_b[name]).flatten().abs()
        assert diff.max() <= 4 * lr, (name, diff.max().item())  # two steps, each at most lr either way
        kept = diff.sort().values[: max(1, int(diff.numel() * 0.99))]
        worst = (kept.norm() / weights_b[name].norm()).item()
        assert worst < 1e-3, (name, worst)


def _sft(family_dir, family, **overrides):
    values = dict(max_steps=2, batch_size=4, max_rows=8, max_length=96, packing=True, **overrides)
    return tiny_recipe(family_dir(family), **values)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sft_lora_trains_the_same_with_the_fast_paths_off(family_dir, family, tmp_path, monkeypatch):
    config = _sft(family_dir, family)
    _assert_same_training(
        _train(config, tmp_path, monkeypatch, fast=True), _train(config, tmp_path, monkeypatch, fast=False), config
    )


# Every method on every family. CI runs a diagonal: each method on a different sliding-window family
# (the families a fast path got wrong), so every method and every sliding family trains in CI; the
# whole matrix runs under heavy (bash test.sh --all).
RL_METHODS = ["dpo", "kto", "orpo", "reward", "grpo"]
IN_CI = {("dpo", "qwen2"), ("kto", "gemma3_text"), ("orpo", "mistral"), ("reward", "phi3"), ("grpo", "qwen3")}
MATRIX = [
    pytest.param(method, family, marks=() if (method, family) in IN_CI else pytest.mark.heavy)
    for method in RL_METHODS
    for family in sorted(FAMILIES)
]


def test_the_ci_diagonal_covers_every_method_and_every_sliding_family():
    sliding = {name for name, family in FAMILIES.items() if family.sliding_window}
    assert {m for m, _ in IN_CI} == set(RL_METHODS) and {f for _, f in IN_CI} <= sliding
    assert sliding - {f for _, f in IN_CI} <= {"smollm3"}, "a sliding family no method trains on in CI"


@pytest.mark.parametrize(("method", "family"), MATRIX)
def test_each_method_trains_the_same_on_every_family(family_dir, family, method, tmp_path, monkeypatch):
    config = configure(tiny_recipe(family_dir(family)), method)
    if method == "reward" and not FAMILIES[family].reward:
        with pytest.raises(ConfigError, match=f"no score-head class for the {family} architecture"):
            plan_run(config)  # before any weight loads
        return
    _assert_same_training(
        _train(config, tmp_path, monkeypatch, fast=True), _train(config, tmp_path, monkeypatch, fast=False), config
    )


# SFT with full fine-tuning and QLoRA on every family; CI runs three (two sliding families full, one QLoRA).
ADAPTER_CI = {("mistral", "full"), ("phi3", "full"), ("qwen3", "qlora")}
ADAPTER_MATRIX = [
    pytest.param(family, adapter, marks=() if (family, adapter) in ADAPTER_CI else pytest.mark.heavy)
    for family in sorted(FAMILIES)
    for adapter in ("full", "qlora")
]


@pytest.mark.parametrize(("family", "adapter"), ADAPTER_MATRIX)
def test_full_and_qlora_fine_tuning_train_the_same(family_dir, family, adapter, tmp_path, monkeypatch):
    config = _sft(family_dir, family, adapter=adapter, learning_rate=1e-4 if adapter == "full" else 1e-3)
    _assert_same_training(
        _train(config, tmp_path, monkeypatch, fast=True), _train(config, tmp_path, monkeypatch, fast=False), config
    )


def test_an_architecture_without_a_causal_lm_is_refused_before_loading(tmp_path):
    from transformers import T5Config

    T5Config(vocab_size=64, d_model=16, num_layers=1, num_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ConfigError) as refused:
        plan_run(tiny_recipe(tmp_path))  # the folder has no weights and no tokenizer: nothing loaded
    text = str(refused.value)
    assert "t5 architecture" in text and "qwen2" in text and "gemma3_text" in text


def test_a_family_outside_the_table_trains_with_a_warning_and_no_fast_path(tmp_path, embedded_dir, monkeypatch):
    from transformers import GPT2Config, GPT2LMHeadModel

    from studio.models.loading import load_tokenizer

    tokenizer = load_tokenizer(str(embedded_dir))
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2, n_positions=256)
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    plan = plan_run(tiny_recipe(tmp_path, max_steps=1))
    assert any(p.field == "model" and p.level == "warning" and "gpt2 family" in p.message for p in plan.problems)
    model = loading.load_model(str(tmp_path), torch.float32)
    assert not use_packed_attention(model)


def test_the_models_page_tables_are_the_tables_in_the_code():
    from pathlib import Path

    from studio import patches
    from studio.models import families

    page = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    assert families.markdown_table() in page and patches.markdown_table() in page


def test_the_reward_column_is_transformers_score_head_classes():
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    assert {f for f, row in FAMILIES.items() if row.reward} == set(FAMILIES) & set(
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES
    )
