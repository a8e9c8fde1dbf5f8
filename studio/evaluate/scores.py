"""The numbers evaluation reports, each a small function with a known value on a known case.

token_nll(logits, labels, mask)        -> (summed negative log-likelihood, tokens)
perplexity(nll_sum, tokens)            -> exp(mean NLL): 4.0 for a uniform guess among 4 tokens
rouge_l(predictions, references)       -> mean ROUGE-L F1 (rouge-score), 0..1
bleu(predictions, references)          -> corpus BLEU (sacrebleu), 0..100
exact_match(predictions, references)   -> share equal after normalisation, 0..1
preference_stats(chosen, rejected, ...)-> accuracy, log-prob margin, DPO reward margin
"""

from __future__ import annotations

import math
import re
import string

import sacrebleu
import torch


def token_nll(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> tuple[float, int]:
    """Summed NLL of ``labels`` under ``logits`` where ``mask`` is 1, the usual causal shift applied:
    position t's logits predict token t+1. Shapes: logits [B, T, V], labels and mask [B, T]."""
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    target = labels[:, 1:]
    keep = mask[:, 1:].bool()
    picked = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return float(-(picked * keep).sum()), int(keep.sum())


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per sequence, the summed log-probability of the masked tokens (as DPO scores answers)."""
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    picked = logp.gather(-1, labels[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (picked * mask[:, 1:].float()).sum(-1)


def perplexity(nll_sum: float, tokens: int) -> float:
    if tokens <= 0:
        raise ValueError("perplexity: no tokens to score (every answer is empty or cut off)")
    return math.exp(nll_sum / tokens)


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD's answer normalisation)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(predictions: list[str], references: list[str]) -> float:
    pairs = list(zip(predictions, references, strict=True))
    return sum(normalize(p) == normalize(r) for p, r in pairs) / len(pairs) if pairs else 0.0


def rouge_l(predictions: list[str], references: list[str]) -> float:
    """Mean ROUGE-L F1: the longest common subsequence of words, balanced between precision and recall."""
    # lazy: ui-startup - rouge_score loads nltk (seconds), for SFT runs' evaluation only
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    pairs = list(zip(predictions, references, strict=True))
    if not pairs:
        return 0.0
    return sum(scorer.score(r, p)["rougeL"].fmeasure for p, r in pairs) / len(pairs)


def bleu(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU with sacrebleu's standard settings (13a tokenisation, brevity penalty)."""
    if not predictions:
        return 0.0
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def preference_stats(
    chosen: list[float],
    rejected: list[float],
    ref_chosen: list[float] | None = None,
    ref_rejected: list[float] | None = None,
    beta: float = 0.1,
) -> dict:
    """How often, and by how much, a model prefers the chosen answer.

    ``accuracy``: share of pairs whose chosen answer has the higher summed log-probability;
    ``logp_margin``: mean of log p(chosen) - log p(rejected). With a reference model (the base),
    also DPO's implicit reward margin, beta x mean[(c - ref_c) - (r - ref_r)], and its accuracy
    (the share with a positive margin, as DPO training logs it).
    """
    n = len(chosen)
    if n == 0 or n != len(rejected):
        raise ValueError("preference_stats: needs as many chosen as rejected scores, at least one")
    out = {
        "preference_accuracy": sum(c > r for c, r in zip(chosen, rejected, strict=True)) / n,
        "logp_margin": sum(c - r for c, r in zip(chosen, rejected, strict=True)) / n,
    }
    if ref_chosen is not None and ref_rejected is not None:
        margins = [
            beta * ((c - rc) - (r - rr))
            for c, r, rc, rr in zip(chosen, rejected, ref_chosen, ref_rejected, strict=True)
        ]
        out["reward_margin"] = sum(margins) / n
        out["reward_accuracy"] = sum(m > 0 for m in margins) / n
    return out
