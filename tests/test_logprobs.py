"""The plain log-probability path gives what TRL's chunked kernel gives, values and gradients."""

import pytest
import torch

from studio.patches.logprobs import PlainLogProb, use_plain_logprobs

OUTPUTS = ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def _inputs(seed: int, tokens=75, hidden=24, vocab=301, bias=True):  # 75 rows: several METRIC_ROWS chunks
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(tokens, hidden, generator=g, requires_grad=True)
    w = torch.randn(vocab, hidden, generator=g, requires_grad=True)
    b = torch.randn(vocab, generator=g, requires_grad=True) if bias else None
    t = torch.randint(0, vocab, (tokens,), generator=g)
    return h, w, b, t


def _assert_same(names, expected, actual, rtol: float, atol: float) -> None:
    """Each named output of ``actual`` equals ``expected``'s: booleans exactly, numbers within the tolerance."""
    for name, a, b in zip(names, expected, actual, strict=True):
        if a.dtype == torch.bool:
            assert torch.equal(a, b), name
        else:
            torch.testing.assert_close(b, a, rtol=rtol, atol=atol, msg=name)


@pytest.mark.parametrize("temperature,softcap,scale,bias", [(1.0, None, 1.0, True), (0.7, 30.0, 0.5, False)])
def test_plain_matches_trl_kernel_values_and_gradients(temperature, softcap, scale, bias):
    from trl.kernels import ChunkedLogProbFunction

    results = []
    for fn in (ChunkedLogProbFunction, PlainLogProb):
        h, w, b, t = _inputs(0, bias=bias)
        out = fn.apply(h, w, b, t, temperature, 64, softcap, scale, OUTPUTS)
        out[0].sum().backward()  # only log_probs is trained on; SFT and DPO detach the metrics
        results.append((out, h.grad, w.grad, None if b is None else b.grad))
    (kernel, kh, kw, kb), (plain, ph, pw, pb) = results
    _assert_same(("log_probs",) + OUTPUTS, kernel, plain, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ph, kh, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(pw, kw, rtol=1e-4, atol=1e-4)
    if bias:
        torch.testing.assert_close(pb, kb, rtol=1e-4, atol=1e-4)


def test_outputs_not_requested_are_none():
    h, w, b, t = _inputs(1)
    out = PlainLogProb.apply(h, w, b, t, 1.0, 64, None, 1.0, ("entropy",))
    assert out[0].shape == t.shape and out[1] is not None
    assert out[2] is None and out[3] is None and out[4] is None


def test_cpu_gets_the_plain_path_and_trl_reads_it():
    import trl.trainer.utils as trl_utils

    assert use_plain_logprobs("cpu") is True
    assert trl_utils._ChunkedLogProbFunction is PlainLogProb


def _fused_pass(model, batch: dict, rows: list) -> tuple:
    """TRL's fused head on ``batch``: every output, the gradients of its loss, the rows it projected."""
    model.zero_grad(set_to_none=True)
    out = model(**batch, fused_lm_head=True)
    out.loss.backward()
    rows.append(out.label_mask.sum().item())
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return [getattr(out, name) for name in ("loss", "log_probs") + OUTPUTS], grads


def test_scoring_only_the_labelled_positions_gives_every_output_and_gradient(tiny_model_dir, monkeypatch):
    """On a CPU TRL's fused head projects only the positions with a label (the prompt's and the
    padding's skip the vocabulary): the same outputs, zero where unlabelled, and the same gradients."""
    import trl.trainer.utils as trl_utils
    from trl.kernels.chunked_logprob import _use_triton
    from trl.trainer.utils import add_fused_lm_head

    from studio.models import loading
    from studio.patches.logprobs import labelled_rows_only

    torch.manual_seed(0)
    model = loading.load_model(str(tiny_model_dir), torch.float32)
    add_fused_lm_head(model, outputs=("log_probs",) + OUTPUTS)
    ids = torch.randint(0, 49152, (3, 24), generator=torch.Generator().manual_seed(1))
    labels = ids.clone()
    labels[:, :10] = -100  # a prompt
    labels[0, 18:] = -100  # padding
    batch = {"input_ids": ids, "attention_mask": (labels != -100) | (torch.arange(24) < 10), "labels": labels}
    projected = []
    spy = PlainLogProb.apply

    def counting(hidden, *args):
        projected.append(hidden.shape[0])
        return spy(hidden, *args)

    monkeypatch.setattr(PlainLogProb, "apply", staticmethod(counting))
    assert use_plain_logprobs("cpu") and trl_utils._use_triton is labelled_rows_only
    rows: list = []
    monkeypatch.setattr(trl_utils, "_use_triton", _use_triton)  # TRL's own choice on a CPU: every position
    every, every_grads = _fused_pass(model, batch, rows)
    monkeypatch.setattr(trl_utils, "_use_triton", labelled_rows_only)
    labelled, labelled_grads = _fused_pass(model, batch, rows)
    assert projected == [3 * 23, 36] and rows == [36, 36]  # labels 10-23 of each row, 10-17 of the padded one
    _assert_same(("loss", "log_probs") + OUTPUTS, every, labelled, rtol=1e-5, atol=1e-6)
    assert labelled[1][labels[:, 1:] == -100].abs().sum() == 0
    assert every_grads.keys() == labelled_grads.keys() and len(every_grads) > 10
    for name, grad in every_grads.items():
        torch.testing.assert_close(labelled_grads[name], grad, rtol=1e-5, atol=1e-6, msg=name)
