"""SFT and DPO x LoRA, QLoRA and full fine-tuning on the tiny model: what trains, what stays frozen."""

import inspect
import re

import pytest
import torch

from studio.config import DPO_LOSSES
from studio.train.checks import validate
from studio.train.model import trainable_parameters
from studio.train.plan import plan_run
from studio.train.trainer import build_trainer

from .conftest import ROOT

ADAPTERS = ["lora", "qlora", "full"]


def configure(config, method: str, adapter: str):
    config.train.method = method
    config.adapter.adapter = adapter
    config.train.max_steps = 2
    if method == "dpo":
        config.data.dataset = str(ROOT / "assets" / "sample_dpo.jsonl")
        config.data.max_rows = 8
        config.train.batch_size = 2
    return config


def raw(param):
    """The parameter's bytes (4-bit weights are packed into float storage: compare bits, not values)."""
    return param.detach().contiguous().view(torch.uint8)


def train(config, tmp_path):
    plan = plan_run(config)
    trainer = build_trainer(plan, str(tmp_path / "out"))
    before = {n: raw(p).clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    changed = {n for n, p in trainer.model.named_parameters() if not torch.equal(before[n], raw(p))}
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    return trainer, changed, trainable


@pytest.mark.parametrize("method", ["sft", "dpo"])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_method_and_adapter_train_what_they_should(tiny_config, tmp_path, method, adapter):
    trainer, changed, trainable = train(configure(tiny_config, method, adapter), tmp_path)
    model = trainer.model
    logged = [m for m in trainer.state.log_history if "loss" in m]
    assert len(logged) == 2 and all(torch.isfinite(torch.tensor(m["loss"])) for m in logged)
    if adapter == "full":
        assert not hasattr(model, "peft_config")
        assert trainable == set(before_names(model)) and changed  # every weight trains
    else:
        assert changed and changed <= trainable and all("lora_" in n for n in trainable)
        peft_trainable, peft_total = model.get_nb_trainable_parameters()
        assert trainable_parameters(model) == (peft_trainable, peft_total)
        assert list(model.peft_config) == ["default"]  # DPO: no second "ref" adapter copy
    if adapter == "qlora":
        quant = model.base_model.model.config.quantization_config
        assert (quant.bnb_4bit_quant_type, quant.bnb_4bit_use_double_quant) == ("nf4", True)
        assert quant.bnb_4bit_compute_dtype == torch.float32  # follows the run's precision (fp32 here)
        layers = [m for m in model.modules() if type(m).__name__ == "Linear4bit"]
        assert layers and all(m.weight.__class__.__name__ == "Params4bit" for m in layers)
        assert {p.dtype for n, p in model.named_parameters() if p.requires_grad} == {torch.float32}
    if method == "dpo":
        assert {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"} <= logged[0].keys()
        if adapter == "full":
            from studio.models.loading import load_model

            base = load_model(tiny_config.model.model).state_dict()
            reference = trainer.ref_model.state_dict()
            assert not any(p.requires_grad for p in trainer.ref_model.parameters())
            assert all(torch.equal(base[k], reference[k]) for k in base)  # the reference stayed the base
        else:
            # The reference is the base with the adapter disabled: at the first step (LoRA B = 0)
            # the policy equals it, so the rewards are exactly zero.
            assert trainer.ref_model is None
            assert logged[0]["rewards/chosen"] == 0.0 and logged[0]["rewards/margins"] == 0.0


def before_names(model):
    return [n for n, _ in model.named_parameters()]


def test_dpo_beta_and_loss_variant_reach_trl(tiny_config, tmp_path):
    config = configure(tiny_config, "dpo", "lora")
    config.dpo.beta = 0.25
    config.dpo.dpo_loss = "robust"
    config.dpo.dpo_label_smoothing = 0.1
    trainer = build_trainer(plan_run(config), str(tmp_path / "out"))
    assert (trainer.beta, trainer.loss_types, trainer.label_smoothing) == (0.25, ["robust"], 0.1)


def test_dpo_loss_choices_are_exactly_what_trl_accepts():
    from trl import DPOTrainer

    source = inspect.getsource(DPOTrainer)
    accepted = set(re.findall(r'loss_type == "([a-z_]+)"', source))
    assert accepted and set(DPO_LOSSES) == accepted


@pytest.mark.parametrize(
    ("loss", "smoothing", "ok"), [("exo_pair", 0.0, False), ("exo_pair", 1e-3, True), ("robust", 0.1, True)]
)
def test_dpo_label_smoothing_is_checked_per_loss(tiny_config, loss, smoothing, ok):
    tiny_config.train.method = "dpo"
    tiny_config.dpo.dpo_loss = loss
    tiny_config.dpo.dpo_label_smoothing = smoothing
    errors = [p for p in validate(tiny_config) if p.level == "error"]
    assert (not errors) == ok
    if not ok:
        assert errors[0].field == "dpo_label_smoothing" and "above 0" in errors[0].message


def test_warmup_ratio_becomes_steps(tiny_config, tmp_path):
    tiny_config.train.max_steps = 10
    tiny_config.train.warmup_ratio = 0.3
    trainer = build_trainer(plan_run(tiny_config), str(tmp_path / "out"))
    assert trainer.args.get_warmup_steps(10) == 3


def test_optimizers_offered_are_honest_for_the_hardware(tiny_config):
    from studio.train.checks import optimizer_choices

    assert "paged_adamw_8bit" not in optimizer_choices("cpu") and "adamw_8bit" in optimizer_choices("cpu")
    assert "paged_adamw_8bit" in optimizer_choices("cuda")
    tiny_config.train.optim = "paged_adamw_8bit"
    problems = [p for p in validate(tiny_config, "cpu") if p.field == "optim"]
    assert problems and "CUDA" in problems[0].message


def test_8bit_adamw_trains_on_cpu(tiny_config, tmp_path):
    tiny_config.train.optim = "adamw_8bit"
    tiny_config.adapter.adapter = "full"
    tiny_config.train.learning_rate = 1e-5
    trainer, changed, _ = train(tiny_config, tmp_path)
    optimizer = trainer.optimizer.optimizer
    # bitsandbytes keeps 8-bit states for Linear weights of 4096+ values (transformers keeps
    # embeddings in 32 bits, and so does bitsandbytes for small tensors).
    big = [optimizer.state[p] for n, p in trainer.model.named_parameters() if "proj" in n and p.numel() >= 4096]
    assert changed and big and all(s["state1"].dtype == torch.uint8 for s in big)


def test_dpo_preflight_refuses_pairs_with_their_row_numbers(tokenizer):
    from studio.train.preflight import preflight_dpo

    def pair(prompt, chosen, rejected):
        return {
            "prompt": [{"role": "user", "content": prompt}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }

    rows = [
        pair("Hi", "Arr, matey!", "Hello."),
        pair("Hi", "Same answer", "Same answer"),
        pair("Hi", "", "Hello."),
        pair("word " * 200, "Arr!", "No."),
    ]
    out = preflight_dpo(tokenizer, rows, [3, 7, 9, 12], max_length=128)
    assert out.row_numbers == [3]
    assert "identical" in out.refused[7] and "empty" in out.refused[9] and "prompt alone" in out.refused[12]
    assert out.problems[0].level == "warning" and "row 7" in out.problems[0].message
    assert 0 < out.longest <= 128
