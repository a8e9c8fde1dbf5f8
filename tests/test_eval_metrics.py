"""Each evaluation metric on hand-made cases whose values are known."""

import math

import pytest
import torch

from studio.evaluate import scores


def test_perplexity_of_a_uniform_guess_is_the_number_of_choices():
    logits = torch.zeros((1, 5, 4))  # every position: uniform over 4 tokens
    labels = torch.tensor([[0, 1, 2, 3, 0]])
    nll, count = scores.token_nll(logits, labels, torch.ones_like(labels))
    assert count == 4  # the first token has nothing before it to predict it
    assert scores.perplexity(nll, count) == pytest.approx(4.0)


def test_perplexity_of_a_known_distribution():
    # Position 0 gives the next token probability 0.5, position 1 gives 0.25: perplexity
    # exp(-(ln 0.5 + ln 0.25) / 2) = sqrt(8). The masked third prediction does not count.
    probs = torch.tensor([[[0.5, 0.5, 0.0 + 1e-12], [0.25, 0.75, 1e-12], [0.9, 0.1, 1e-12], [1 / 3, 1 / 3, 1 / 3]]])
    labels = torch.tensor([[2, 0, 0, 1]])
    mask = torch.tensor([[0, 1, 1, 0]])
    nll, count = scores.token_nll(probs.log(), labels, mask)
    assert count == 2
    assert scores.perplexity(nll, count) == pytest.approx(math.sqrt(8), rel=1e-6)
    logps = scores.sequence_logps(probs.log(), labels, mask)
    assert float(logps[0]) == pytest.approx(math.log(0.5) + math.log(0.25), rel=1e-6)


def test_perplexity_without_tokens_is_refused():
    with pytest.raises(ValueError, match="no tokens"):
        scores.perplexity(0.0, 0)


def test_rouge_l_is_the_longest_common_subsequence_f1():
    # LCS of "the cat sat on the mat" / "the cat is on the mat" = "the cat on the mat": 5 of 6 words
    # each way, so P = R = F1 = 5/6.
    assert scores.rouge_l(["the cat sat on the mat"], ["the cat is on the mat"]) == pytest.approx(5 / 6)
    # 2 of 4 and 2 of 2: P = 1/2, R = 1, F1 = 2/3; the mean over two pairs with the identical one is 5/6.
    assert scores.rouge_l(["a b c d", "x y"], ["a d", "x y"]) == pytest.approx((2 / 3 + 1) / 2)


def test_bleu_with_a_brevity_penalty():
    # Every n-gram of the 6-word hypothesis is in the 7-word reference: precisions all 1, so
    # BLEU = brevity penalty = exp(1 - 7/6) = 0.8465 -> 84.65.
    score = scores.bleu(["the cat sat on the mat"], ["the cat sat on the mat today"])
    assert score == pytest.approx(100 * math.exp(1 - 7 / 6), abs=0.01)
    assert scores.bleu(["same words here again"], ["same words here again"]) == pytest.approx(100)
    assert scores.bleu(["nothing shared"], ["entirely different words"]) == pytest.approx(0)


def test_exact_match_after_normalisation():
    assert scores.exact_match(
        ["Paris.", "The  answer is 4", "Lyon"], ["paris", "answer is 4", "Paris"]
    ) == pytest.approx(2 / 3)


def test_preference_accuracy_and_reward_margin():
    chosen, rejected = [-10.0, -20.0, -5.0, -8.0], [-12.0, -15.0, -9.0, -8.0]
    stats = scores.preference_stats(chosen, rejected)
    assert stats["preference_accuracy"] == pytest.approx(2 / 4)  # pairs 1 and 3; a tie is not a win
    assert stats["logp_margin"] == pytest.approx((2 - 5 + 4 + 0) / 4)
    # Against a reference that scored every answer -10: margins 0.1 x ((c+10) - (r+10)) = 0.1 x (c - r).
    ref = [-10.0] * 4
    stats = scores.preference_stats(chosen, rejected, ref, ref, beta=0.1)
    assert stats["reward_margin"] == pytest.approx(0.1 * 0.25)
    assert stats["reward_accuracy"] == pytest.approx(2 / 4)
