"""The window on sampling: top-k / top-p membership and temperature, checked by hand."""

import math

import pytest
import torch

from studio.chat.sampling import Picker, Sampling, distribution_figure, logits_processors, next_token_distribution

PROBS = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]
LOGITS = torch.tensor([[math.log(p) for p in PROBS]])


def members(dist):
    return (
        {c.token_id for c in dist.candidates if c.in_top_k},
        {c.token_id for c in dist.candidates if c.in_top_p},
    )


def test_top_k_then_top_p_at_temperature_1():
    # top-k 4 keeps tokens 0-3 (mass 0.9). Renormalised: 0.444, 0.278, 0.167, 0.111. top-p 0.7 keeps
    # the fewest most likely tokens reaching 0.7: 0.444 < 0.7, 0.444 + 0.278 = 0.722 >= 0.7 -> {0, 1}.
    dist = next_token_distribution(LOGITS, Sampling(temperature=1.0, top_k=4, top_p=0.7))
    assert members(dist) == ({0, 1, 2, 3}, {0, 1})
    assert (dist.top_k_size, dist.top_p_size) == (4, 2)
    first = dist.candidates[0]
    assert first.p_model == pytest.approx(0.4) and first.p_tempered == pytest.approx(0.4)
    assert first.p_final == pytest.approx(0.4 / 0.65)  # drawn among {0, 1}: 0.4 / (0.4 + 0.25)
    assert [c.token_id for c in dist.candidates] == [0, 1, 2, 3, 4, 5]


def test_temperature_2_flattens_and_top_p_keeps_more():
    # T=2: p ~ sqrt(p) -> 0.277, 0.219, 0.170, 0.139, 0.107, 0.088. top-k 4 renormalised over 0.805:
    # 0.344, 0.272, 0.211, 0.172; cumulative 0.344, 0.616, 0.828 -> top-p 0.7 keeps {0, 1, 2}.
    dist = next_token_distribution(LOGITS, Sampling(temperature=2.0, top_k=4, top_p=0.7))
    assert members(dist) == ({0, 1, 2, 3}, {0, 1, 2})
    roots = [math.sqrt(p) for p in PROBS]
    assert dist.candidates[0].p_tempered == pytest.approx(roots[0] / sum(roots), abs=1e-6)
    assert dist.candidates[0].p_model == pytest.approx(0.4)


def test_no_top_k_and_sharp_temperature():
    # top-k off: every token is in. T=0.5: p ~ p^2 -> 0.16, 0.0625, 0.0225, ... / 0.2486:
    # 0.644, 0.251 -> cumulative 0.644 < 0.8, 0.895 >= 0.8 -> {0, 1}.
    dist = next_token_distribution(LOGITS, Sampling(temperature=0.5, top_k=0, top_p=0.8))
    assert members(dist) == ({0, 1, 2, 3, 4, 5}, {0, 1})


def test_greedy_keeps_only_the_top_token():
    dist = next_token_distribution(LOGITS, Sampling(greedy=True, top_k=4, top_p=0.7))
    assert [c.token_id for c in dist.candidates if c.sampled_from] == [0]
    assert dist.candidates[0].p_final == 1.0


def test_repetition_penalty_lowers_tokens_already_seen():
    # Token 0 was seen: its logit log(0.4) < 0 is multiplied by 2, i.e. p 0.4 -> 0.16 before renormalising.
    dist = next_token_distribution(
        LOGITS, Sampling(repetition_penalty=2.0, top_k=0, top_p=1.0), history=torch.tensor([[0]])
    )
    p = {c.token_id: c.p_model for c in dist.candidates}
    assert p[0] == pytest.approx(0.16 / (1 - 0.4 + 0.16))
    assert max(p, key=p.get) == 1


def test_the_sampler_draws_only_from_the_charted_set():
    sampling = Sampling(temperature=1.0, top_k=4, top_p=0.7, seed=0, max_new_tokens=200)
    picker = Picker(torch.tensor([[5]]), sampling)
    drawn = {picker.pick(LOGITS.clone()) for _ in range(200)}
    assert drawn == {0, 1}
    assert len(logits_processors(sampling)) == 2  # top-k and top-p; temperature 1 is a no-op


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(temperature=0.7, top_k=50, top_p=0.9, repetition_penalty=1.3),
        Sampling(temperature=1.6, top_k=5, top_p=1.0),
        Sampling(temperature=0.3, top_k=0, top_p=0.5, repetition_penalty=1.1),
        Sampling(temperature=1.0, top_k=2000, top_p=0.95),
    ],
)
def test_the_sampler_s_shortcut_gives_transformers_own_distribution(sampling):
    """Top-k first, then temperature and top-p on the survivors: the same probabilities as the
    full chain of transformers' processors over the whole vocabulary."""
    torch.manual_seed(0)
    logits = torch.randn(1, 1000) * 3
    order = logits[0].argsort(descending=True)
    logits[0, order[5]] = logits[0, order[4]]  # the 5th and 6th tie: top-k 5 keeps both, as transformers does
    prompt = torch.tensor([[3, 10, 500, 10]])
    ids, probs = Picker(prompt, sampling).candidates(logits.clone())
    full = logits.clone()
    for processor in logits_processors(sampling):
        full = processor(prompt, full)
    expected = torch.softmax(full, -1)[0]
    got = torch.zeros(1000)
    got[ids if ids is not None else slice(None)] = probs[0]
    assert torch.allclose(got, expected, atol=1e-6)
    assert set(torch.nonzero(got).flatten().tolist()) == set(torch.nonzero(expected).flatten().tolist())
    if sampling.top_k == 5:
        assert len(ids) == 6


def test_the_chart_colours_follow_membership():
    dist = next_token_distribution(LOGITS, Sampling(temperature=1.0, top_k=4, top_p=0.7), label="base")
    fig = distribution_figure([dist, dist], Sampling(temperature=1.0, top_k=4, top_p=0.7))
    filled = [t for t in fig.data if t.name == "at this temperature"]
    assert len(filled) == 2
    colours = list(reversed(filled[0].marker.color))  # bars are drawn bottom-up
    assert colours == ["#16a34a", "#16a34a", "#f59e0b", "#f59e0b", "#9ca3af", "#9ca3af"]
    assert "keeps 2" in fig.layout.annotations[0].text
