"""A LoRA layer as one product on a CPU (studio.patches.fused_lora) computes PEFT's numbers.

Held to PEFT's own path: losses and every adapter gradient after a few optimizer steps (tiny
model here, the embedded model under ``heavy``); and PEFT's path itself wherever the fused one
is not the same computation (adapters disabled, dropout, one-token passes, bf16 weights).
"""

from __future__ import annotations

import pytest
import torch

from studio.patches import fused_lora
from studio.patches.fused_lora import fuse_lora


def _lora(model_dir, fused: bool, dtype=torch.float32, dropout: float = 0.0):
    from peft import LoraConfig, get_peft_model

    from studio.models import loading

    torch.manual_seed(0)
    model = loading.load_model(str(model_dir), dtype)
    model.config.use_cache = False
    config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=dropout, init_lora_weights=False)
    model = get_peft_model(model, config).train()
    if fused:
        assert fuse_lora(model) == (7 * model.config.num_hidden_layers if dtype == torch.float32 else 0)
    return model


def _batch(rows: int = 2, length: int = 48, seed: int = 0) -> dict:
    ids = torch.randint(0, 49152, (rows, length), generator=torch.Generator().manual_seed(seed))
    return {"input_ids": ids, "labels": ids.clone()}


def _train(model, steps: int, batch: dict) -> tuple[list[float], dict]:
    """Losses of ``steps`` AdamW steps, and the adapter gradients of the last one."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        losses.append(loss.item())
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        optimizer.step()
    return losses, grads


def _assert_same(reference, fused, rel: float):
    (losses_a, grads_a), (losses_b, grads_b) = reference, fused
    assert losses_b == pytest.approx(losses_a, rel=rel)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) == 2 * 7 * 2  # A and B of 7 layers x 2
    worst = max(((grads_a[k] - grads_b[k]).norm() / grads_a[k].norm()).item() for k in grads_a)
    assert worst < rel, worst


def test_losses_and_gradients_equal_peft_s_over_several_steps(tiny_model_dir, monkeypatch):
    calls = []
    original = fused_lora._FusedLoraLinear.apply
    monkeypatch.setattr(fused_lora._FusedLoraLinear, "apply", lambda *a: calls.append(1) or original(*a))
    batch = _batch()
    reference = _train(_lora(tiny_model_dir, fused=False), 3, batch)
    assert not calls
    _assert_same(reference, _train(_lora(tiny_model_dir, fused=True), 3, batch), rel=1e-5)
    assert len(calls) == 3 * 14  # every LoRA layer of every step took the fused product


def test_where_it_is_not_the_same_computation_peft_s_path_runs(tiny_model_dir, monkeypatch):
    calls = []
    original = fused_lora._FusedLoraLinear.apply
    monkeypatch.setattr(fused_lora._FusedLoraLinear, "apply", lambda *a: calls.append(1) or original(*a))
    plain, fused = _lora(tiny_model_dir, fused=False), _lora(tiny_model_dir, fused=True)
    batch = _batch()
    with torch.no_grad():
        with plain.disable_adapter(), fused.disable_adapter():  # DPO's reference: the bare base
            torch.testing.assert_close(fused(**batch).logits, plain(**batch).logits, rtol=0, atol=0)
        one_token = {"input_ids": batch["input_ids"][:1, :1]}  # a generation step: under MIN_ROWS
        torch.testing.assert_close(fused(**one_token).logits, plain(**one_token).logits, rtol=0, atol=0)
    assert not calls
    # dropout on the adapter's input: x differs between the two branches, so no merged weight
    dropped = [_lora(tiny_model_dir, fused=f, dropout=0.3) for f in (False, True)]
    losses = []
    for model in dropped:
        torch.manual_seed(5)
        losses.append(model(**batch).loss.item())
    assert losses[0] == losses[1] and not calls
    # bf16 weights: the adapter's update would round to the base weight's precision; not fused
    assert fuse_lora(_lora(tiny_model_dir, fused=False, dtype=torch.bfloat16)) == 0


def test_the_studio_s_cpu_trainer_uses_it(tiny_config, tmp_path):
    from studio.train.plan import plan_run
    from studio.train.trainer import build_trainer

    plan = plan_run(tiny_config)
    assert plan.device.kind == "cpu" and plan.precision == "fp32"
    trainer = build_trainer(plan, str(tmp_path))
    layers = [m for m in trainer.model.modules() if "_peft_forward" in m.__dict__]
    assert len(layers) == 14


@pytest.mark.slow
@pytest.mark.heavy
def test_the_embedded_model_trains_the_same(embedded_dir):
    batch = _batch(rows=4, length=200, seed=3)
    reference = _train(_lora(embedded_dir, fused=False), 2, batch)
    fused = _train(_lora(embedded_dir, fused=True), 2, batch)
    (losses_a, grads_a), (losses_b, grads_b) = reference, fused
    assert losses_b == pytest.approx(losses_a, rel=1e-4)
    worst = max(((grads_a[k] - grads_b[k]).norm() / grads_a[k].norm()).item() for k in grads_a)
    assert worst < 1e-3, worst
