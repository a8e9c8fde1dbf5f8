"""The plain log-probability path gives what TRL's chunked kernel gives, values and gradients."""

import pytest
import torch

from studio.train.logprobs import PlainLogProb, use_plain_logprobs

OUTPUTS = ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def _inputs(seed: int, tokens=75, hidden=24, vocab=301, bias=True):  # 75 rows: several METRIC_ROWS chunks
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(tokens, hidden, generator=g, requires_grad=True)
    w = torch.randn(vocab, hidden, generator=g, requires_grad=True)
    b = torch.randn(vocab, generator=g, requires_grad=True) if bias else None
    t = torch.randint(0, vocab, (tokens,), generator=g)
    return h, w, b, t


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
    for name, a, p in zip(("log_probs",) + OUTPUTS, kernel, plain, strict=True):
        if a.dtype == torch.bool:
            assert torch.equal(a, p), name
        else:
            torch.testing.assert_close(p, a, rtol=1e-4, atol=1e-4, msg=name)
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
