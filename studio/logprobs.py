"""TRL's per-token log-probabilities, computed plainly where its chunked kernel has no Triton.

TRL 1.16 computes the training log-probabilities of SFT and DPO with a chunked kernel that never
materialises the ``[tokens, vocab]`` logits: the right trade on a GPU, where Triton folds each
tile in one pass. Without Triton (a CPU) the same kernel runs as loops of torch ops in fp32
tiles with a hand-written backward, and measured here it made a LoRA step of the embedded model
much slower than plain logits + log-softmax over the same batches (SFT 0.70 of the bare-PyTorch
floor in bf16, DPO 0.70; with the plain computation 0.98-1.01). On such devices the studio puts
:class:`PlainLogProb` in its place: the same inputs, the same outputs, ordinary autograd.

The cost is memory: the logits of a batch are materialised, which a CPU run of a model small
enough to train on a CPU affords (the estimator counts it).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


class PlainLogProb:
    """Drop-in for ``trl.kernels.ChunkedLogProbFunction``: ``apply`` returns
    (log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1), None where not requested."""

    @staticmethod
    def apply(
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        temperature: float,
        chunk_size: int,
        final_logit_softcapping: float | None = None,
        logit_scale: float = 1.0,
        outputs: tuple[str, ...] = ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1"),
    ):
        # The projection runs in the autocast dtype, like the kernel's; everything after it in fp32.
        z = F.linear(hidden, weight, bias).float() * logit_scale
        if final_logit_softcapping:
            z = final_logit_softcapping * torch.tanh(z / final_logit_softcapping)
        z = z / temperature
        log_p = torch.log_softmax(z, dim=-1)
        log_probs = log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        entropy = -(log_p.exp() * log_p).sum(-1) if "entropy" in outputs else None
        with torch.no_grad():
            log_sum_sq = torch.logsumexp(2 * log_p, dim=-1) if "log_sum_sq_probs" in outputs else None
            mean_logits = z.mean(-1) if "mean_logits" in outputs else None
            is_top1 = z.argmax(-1) == targets if "is_top1" in outputs else None
        return log_probs, entropy, log_sum_sq, mean_logits, is_top1


def use_plain_logprobs(device_type: str) -> bool:
    """Swap TRL's chunked kernel for the plain computation on devices where it has no Triton.

    Returns whether the plain computation is in place. TRL reads the kernel from
    ``trl.trainer.utils`` at each forward pass, so the swap holds for every trainer built after.
    """
    import trl.trainer.utils as trl_utils
    from trl.kernels import ChunkedLogProbFunction
    from trl.kernels.chunked_logprob import _use_triton

    plain = not _use_triton(torch.device(device_type))
    wanted = PlainLogProb if plain else ChunkedLogProbFunction
    if trl_utils._ChunkedLogProbFunction is not wanted:
        log.info("log-probabilities: %s", "plain logits (no Triton here)" if plain else "TRL's chunked kernel")
        trl_utils._ChunkedLogProbFunction = wanted
    return plain
