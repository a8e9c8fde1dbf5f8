"""TRL's per-token log-probabilities, computed plainly where its chunked kernel has no Triton.

TRL 1.16 computes the training log-probabilities of SFT and DPO with a chunked kernel that never
materialises the ``[tokens, vocab]`` logits: the right trade on a GPU, where Triton folds each
tile in one pass. Without Triton (a CPU) the same kernel runs as loops of torch ops in fp32
tiles with a hand-written backward, slower than the plain form on a CPU (the studio's SFT and DPO
against the bare-PyTorch floor: ``python -m studio bench --only sft dpo``, with
``STUDIO_PLAIN_LOGPROBS=0`` to compare; docs/benchmark-notes.md). It takes the same inputs and
gives the same outputs: a fused cross-entropy for the
log-probabilities (ordinary autograd) and the logged metrics without a gradient, in row chunks.

The cost is memory: the logits of a batch are materialised, which a CPU run of a model small
enough to train on a CPU affords (the estimator counts it).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
import trl.trainer.utils as trl_utils
from trl.kernels import ChunkedLogProbFunction
from trl.kernels.chunked_logprob import _use_triton

from studio.patches import enabled

log = logging.getLogger(__name__)


class PlainLogProb:
    """Drop-in for ``trl.kernels.ChunkedLogProbFunction``: ``apply`` returns
    (log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1), None where not requested.

    Only ``log_probs`` carries a gradient (a fused cross-entropy, the cheapest backward there
    is); the other outputs are metrics, computed without one: TRL's SFT and DPO trainers
    detach them (entropy, mean logits, top-1 accuracy; WPO's weights are detached too).
    """

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
        z = F.linear(hidden, weight, bias).float()
        if logit_scale != 1.0:
            z = z * logit_scale
        if final_logit_softcapping:
            z = final_logit_softcapping * torch.tanh(z / final_logit_softcapping)
        if temperature != 1.0:
            z = z / temperature
        log_probs = -F.cross_entropy(z, targets, reduction="none")
        with torch.no_grad():
            metrics = _metrics(z.detach(), targets, outputs)
        return (log_probs, *metrics)


METRIC_ROWS = 32  # rows of logits per pass: one chunk (32 x vocab fp32) stays in cache across its passes


def _metrics(z: torch.Tensor, targets: torch.Tensor, outputs: tuple[str, ...]) -> list[torch.Tensor | None]:
    """entropy, log_sum_sq_probs, mean_logits, is_top1 of logits ``z`` [tokens, vocab], None where not
    requested. Row chunks keep each chunk's several passes in cache, which whole-tensor ops over a
    [tokens, vocab] tensor cannot."""
    wanted = [name in outputs for name in ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")]
    parts: list[list[torch.Tensor]] = [[], [], [], []]
    for start in range(0, z.shape[0], METRIC_ROWS):
        zc, tc = z[start : start + METRIC_ROWS], targets[start : start + METRIC_ROWS]
        top, top_index = zc.max(-1)
        if wanted[0] or wanted[1]:
            e = (zc - top.unsqueeze(-1)).exp_()  # unnormalised probabilities
            total = e.sum(-1)
            if wanted[0]:  # H = log Z - E_p[z]
                parts[0].append(top + total.log() - torch.linalg.vecdot(e, zc) / total)
            if wanted[1]:  # log sum p^2
                parts[1].append(torch.linalg.vecdot(e, e).log() - 2 * total.log())
        if wanted[2]:
            parts[2].append(zc.mean(-1))
        if wanted[3]:
            parts[3].append(top_index == tc)
    return [torch.cat(p) if w else None for p, w in zip(parts, wanted, strict=True)]


def labelled_rows_only(_device) -> bool:
    """What TRL's fused head asks (as ``_use_triton``) before scoring: whether to score only the
    labelled positions. With the plain computation, always: it runs eagerly, so a new row count
    recompiles nothing, and the prompt's and the padding's rows (a third of SFT's bench tokens,
    three fifths of DPO's) skip the vocabulary projection, its backward and the loss. TRL zeroes
    every output at those positions on both of its paths, so the outputs are the same."""
    return True


def use_plain_logprobs(device_type: str) -> bool:
    """Swap TRL's chunked kernel for the plain computation on devices where it has no Triton,
    scoring only the labelled positions (``labelled_rows_only``).

    Returns whether the plain computation is in place. TRL reads the kernel and the question from
    ``trl.trainer.utils`` at each forward pass, so the swap holds for every trainer built after.
    """
    plain = not _use_triton(torch.device(device_type)) and enabled("plain_logprobs")
    wanted = PlainLogProb if plain else ChunkedLogProbFunction
    if trl_utils._ChunkedLogProbFunction is not wanted:
        log.info("log-probabilities: %s", "plain logits (no Triton here)" if plain else "TRL's chunked kernel")
        trl_utils._ChunkedLogProbFunction = wanted
    trl_utils._use_triton = labelled_rows_only if plain else _use_triton
    return plain
