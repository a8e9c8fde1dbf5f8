"""Padded batches computed without their padding (studio.patches.unpadded) give the padded numbers.

Held to the padded pass: logits at the real tokens, the loss and every adapter gradient for right-
and left-padded rows; the methods that train on padded batches (DPO, KTO, ORPO, the reward model, GRPO)
log the same losses over their steps either way; and the padded pass itself wherever skipping the
padding would not be the same computation.
"""

from __future__ import annotations

import pytest
import torch

from studio.models import loading
from studio.patches.packed_attention import use_packed_attention
from studio.patches.unpadded import _real_tokens, unpad_batches
from studio.train.plan import plan_run
from studio.train.trainer import build_trainer

from .test_methods_rl import configure


def _lora(model_dir, unpad: bool):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = loading.load_model(str(model_dir), torch.float32)
    model.config.use_cache = False
    use_packed_attention(model)
    model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear", init_lora_weights=False)).train()
    assert unpad_batches(model) is unpad
    return model


def _padded_batch() -> dict:
    ids = torch.randint(0, 49152, (4, 40), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0, 30:] = 0  # right padding
    mask[1, :5] = 0  # left padding
    mask[2, 12:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    labels[1, 5] = -100  # a row's first token has no real token before it to be predicted from
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _pass(model, batch: dict):
    """Loss, logits and adapter gradients of one pass, and the shapes the first layer computed."""
    shapes = []

    def seen(_module, args, kwargs):
        shapes.append(tuple((args[0] if args else kwargs["hidden_states"]).shape[:2]))

    layer = model.get_base_model().get_decoder().layers[0]
    hook = layer.register_forward_pre_hook(seen, with_kwargs=True)
    try:
        out = model(**batch)
    finally:
        hook.remove()
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.loss.item(), out.logits.detach(), grads, shapes


def test_logits_loss_and_gradients_equal_the_padded_pass(tiny_model_dir, monkeypatch):
    batch = _padded_batch()
    monkeypatch.setenv("STUDIO_UNPAD", "0")
    padded = _pass(_lora(tiny_model_dir, unpad=False), batch)
    monkeypatch.setenv("STUDIO_UNPAD", "1")
    unpadded = _pass(_lora(tiny_model_dir, unpad=True), batch)
    real = batch["attention_mask"].bool()
    assert padded[3] == [(4, 40)]
    assert unpadded[3] == [(1, int(real.sum()))]  # one row of the real tokens only
    assert unpadded[0] == pytest.approx(padded[0], rel=1e-6)
    assert (unpadded[1][real] - padded[1][real]).abs().max() < 1e-5
    assert (unpadded[1][~real] == 0).all()  # the padding's positions hold zeros, not computed states
    assert padded[2].keys() == unpadded[2].keys() and len(padded[2]) == 2 * 7 * 2
    worst = max(((padded[2][k] - unpadded[2][k]).norm() / padded[2][k].norm()).item() for k in padded[2])
    assert worst < 1e-5, worst


def test_a_copy_of_the_model_runs_its_own_weights(tiny_model_dir):
    import copy

    model = _lora(tiny_model_dir, unpad=True)
    batch = {k: v for k, v in _padded_batch().items() if k != "labels"}
    with torch.no_grad():
        before = model(**batch).logits
        twin = copy.deepcopy(model)  # as a frozen reference is made
        twin.get_base_model().get_decoder().layers[0].self_attn.q_proj.base_layer.weight.mul_(3.0)
        assert torch.equal(model(**batch).logits, before)
        assert not torch.allclose(twin(**batch).logits, before, atol=1e-3)


def _call(ids, mask, **extra) -> dict:
    return {"input_ids": ids, "attention_mask": mask, **extra}


def test_only_what_is_the_same_computation_skips_the_padding():
    ids = torch.arange(12).reshape(2, 6)
    right = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    keep, positions = _real_tokens(_call(ids, right))
    assert keep.equal(right.bool()) and positions.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5]
    left = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    assert _real_tokens(_call(ids, left))[1].tolist() == [2, 3, 4, 5, 0, 1, 2]  # the padded pass's positions
    assert _real_tokens(_call(ids, torch.ones_like(ids))) is None  # no padding: nothing to skip
    assert _real_tokens(_call(ids, torch.tensor([[1, 1, 0, 1, 1, 1], [1] * 6]))) is None  # a gap in a row
    assert _real_tokens(_call(ids, torch.tensor([[0] * 6, [1] * 6]))) is None  # an empty row
    # row 0 ends at position 2 and row 1 (left padded) starts at 3: one row would read as one sequence
    assert _real_tokens(_call(ids, torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]))) is None
    jumping = torch.tensor([[0, 1, 2, 7, 8, 9], [0, 1, 2, 3, 4, 5]])  # row 0 would split in two examples
    assert _real_tokens(_call(ids, right, position_ids=jumping)) is None
    assert _real_tokens(_call(ids, right, use_cache=True)) is None  # generation keeps its own path
    assert _real_tokens(_call(ids, right, past_key_values=object())) is None
    assert _real_tokens(_call(ids, right, output_hidden_states=True)) is None
    assert _real_tokens(_call(ids, right, inputs_embeds=torch.zeros(2, 6, 4))) is None
    assert _real_tokens({"input_ids": ids}) is None


def test_it_applies_only_on_the_per_example_attention(tiny_model_dir, monkeypatch):
    model = loading.load_model(str(tiny_model_dir), torch.float32)
    assert not unpad_batches(model)  # sdpa over a padded row: the padded pass is the cheaper one here
    use_packed_attention(model)
    monkeypatch.setenv("STUDIO_UNPAD", "0")
    assert not unpad_batches(model)
    monkeypatch.setenv("STUDIO_UNPAD", "1")
    assert unpad_batches(model) and unpad_batches(model)  # idempotent


def _sharp(plan):
    """The run's model with sharp attention: a random tiny model's replies barely depend on what
    its tokens attend to, so a wrong mask or position would not move its losses."""
    from studio.train.methods import reward
    from studio.train.model import build_model

    model = reward.load_model(plan) if plan.config.train.method == "reward" else build_model(plan, False)
    with torch.no_grad():
        for layer in model.get_decoder().layers:
            layer.self_attn.q_proj.weight.mul_(8.0)
            layer.self_attn.k_proj.weight.mul_(8.0)
    return model


@pytest.mark.parametrize("method", ["dpo", "kto", "orpo", "reward", "grpo"])
def test_methods_on_padded_batches_train_the_same(tiny_config, tmp_path, monkeypatch, method):
    losses, shapes = {}, {}
    for unpad in ("0", "1"):
        monkeypatch.setenv("STUDIO_UNPAD", unpad)
        plan = plan_run(configure(tiny_config, method))
        trainer = build_trainer(plan, str(tmp_path / unpad), model=_sharp(plan))
        model = trainer.model.get_base_model()
        rows = shapes[unpad] = []
        model.get_decoder().layers[0].register_forward_pre_hook(
            lambda _m, args, kwargs, rows=rows: rows.append((args[0] if args else kwargs["hidden_states"]).shape[0]),
            with_kwargs=True,
        )
        trainer.train()
        losses[unpad] = [m["loss"] for m in trainer.state.log_history if "loss" in m]
    # passes over padded rows become one row of their real tokens (generation keeps its padded rows)
    assert shapes["1"].count(1) > shapes["0"].count(1) and len(shapes["1"]) == len(shapes["0"])
    assert len(losses["0"]) == 2
    assert losses["1"] == pytest.approx(losses["0"], rel=1e-4, abs=1e-6)
