"""Padding-free batches attend one example at a time on a CPU, with the numbers of transformers' sdpa.

studio.patches.packed_attention replaces the block-diagonal mask sdpa computes in full; these tests
hold it to the same losses and gradients (tiny model here, the embedded model under ``heavy``), to
the examples run separately, and to sdpa itself wherever the batch is not padding-free.
"""

from __future__ import annotations

import pytest
import torch

from studio.patches.packed_attention import NAME, segments, use_packed_attention

LENGTHS = [23, 9, 31, 17]


def _packed_batch(lengths, vocab: int = 49152, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (1, sum(lengths)), generator=generator)
    positions = torch.cat([torch.arange(n) for n in lengths])[None]
    labels = ids.clone()
    for start in torch.tensor([0, *lengths]).cumsum(0)[:-1].tolist():
        labels[0, start] = -100  # as TRL's padding-free collator: no loss across an example's start
    return {"input_ids": ids, "position_ids": positions, "labels": labels}


def _lora(model_dir, packed: bool):
    from peft import LoraConfig, get_peft_model

    from studio.models import loading

    torch.manual_seed(0)
    model = loading.load_model(str(model_dir), torch.float32)
    model.config.use_cache = False
    if packed:
        assert use_packed_attention(model) and model.config._attn_implementation == NAME
    config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0, init_lora_weights=False)
    return get_peft_model(model, config).train()


def _loss_and_grads(model, batch) -> tuple[float, dict]:
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _assert_same(reference, packed, rel: float):
    (loss_a, grads_a), (loss_b, grads_b) = reference, packed
    assert loss_b == pytest.approx(loss_a, rel=rel)
    assert grads_a.keys() == grads_b.keys() and grads_a
    worst = max(((grads_a[k] - grads_b[k]).norm() / grads_a[k].norm()).item() for k in grads_a)
    assert worst < rel, worst


def test_segments_are_the_examples_of_a_one_row_batch():
    positions = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3]])
    assert segments(positions, 9) == [(0, 3), (3, 5), (5, 9)]
    assert segments(torch.tensor([[0, 1, 2, 3]]), 4) is None  # one example: plain sdpa
    assert segments(torch.tensor([[0, 1], [0, 1]]), 2) is None  # a padded batch of two rows
    assert segments(None, 4) is None
    assert segments(torch.tensor([[5, 6, 0, 1]]), 4) == [(0, 2), (2, 4)]  # a row starting mid-example


def test_padding_free_loss_and_gradients_equal_sdpa_and_the_examples_run_alone(tiny_model_dir):
    batch = _packed_batch(LENGTHS)
    reference = _loss_and_grads(_lora(tiny_model_dir, packed=False), batch)
    packed_model = _lora(tiny_model_dir, packed=True)
    _assert_same(reference, _loss_and_grads(packed_model, batch), rel=1e-5)
    # and both are the examples on their own: no token sees another example
    with torch.no_grad():
        together = packed_model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        start, alone = 0, []
        for n in LENGTHS:
            alone.append(packed_model(input_ids=batch["input_ids"][:, start : start + n]).logits)
            start += n
    torch.testing.assert_close(together, torch.cat(alone, dim=1), rtol=1e-4, atol=1e-4)


def test_padded_batches_and_cached_generation_are_sdpa_s_own(tiny_model_dir):
    plain, packed = _lora(tiny_model_dir, packed=False), _lora(tiny_model_dir, packed=True)
    ids = torch.randint(0, 49152, (2, 12), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, :5] = 0  # left padding
    batch = {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}
    _assert_same(_loss_and_grads(plain, batch), _loss_and_grads(packed, batch), rel=1e-6)
    plain.eval(), packed.eval()
    with torch.no_grad():
        kwargs = dict(input_ids=ids[:1], max_new_tokens=6, do_sample=False, use_cache=True)
        assert torch.equal(plain.generate(**kwargs), packed.generate(**kwargs))


def test_the_studio_s_cpu_training_model_uses_it(tiny_config):
    from studio.train.model import build_model
    from studio.train.plan import plan_run

    plan = plan_run(tiny_config)
    assert plan.device.kind == "cpu"
    assert build_model(plan).config._attn_implementation == NAME


@pytest.mark.slow
@pytest.mark.heavy
def test_the_embedded_model_s_padding_free_step_is_unchanged(embedded_dir):
    batch = _packed_batch([180, 150, 220, 170])
    reference = _loss_and_grads(_lora(embedded_dir, packed=False), batch)
    _assert_same(reference, _loss_and_grads(_lora(embedded_dir, packed=True), batch), rel=1e-4)
