"""How the next token is chosen, and a window on it.

    from studio.chat.sampling import Sampling, Picker, next_token_distribution
    dist = next_token_distribution(logits, Sampling(temperature=0.7, top_k=50, top_p=0.9), tokenizer)
    [(c.token, c.p_model, c.p_tempered, c.in_top_k, c.in_top_p) for c in dist.candidates]

The sampling distribution is built by transformers' own logits processors, in the order
``generate`` applies them (repetition penalty, temperature, top-k, top-p), both when a reply is
sampled (``Picker``) and when the chart explains a choice (``next_token_distribution``), so the
chart shows exactly the set the sampler draws from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from transformers.generation import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from studio.chat.options import Sampling  # the settings, beside the sampler that reads them


def logits_processors(s: Sampling) -> list:
    """The transformers processors that turn raw logits into the sampling distribution."""
    out = []
    if s.repetition_penalty and s.repetition_penalty != 1.0:
        out.append(RepetitionPenaltyLogitsProcessor(s.repetition_penalty))
    if not s.greedy:
        if s.temperature != 1.0:
            out.append(TemperatureLogitsWarper(s.temperature))
        if s.top_k and s.top_k > 0:
            out.append(TopKLogitsWarper(s.top_k))
        if s.top_p < 1.0:
            out.append(TopPLogitsWarper(s.top_p))
    return out


class Picker:
    """Chooses one column's tokens: its own seeded generator and its token history.

    Two per-token costs are avoided. The history (prompt + reply) lives in one preallocated
    buffer, so the repetition penalty reads a view of it instead of a fresh concatenation of the
    conversation. And with top-k on, the k best tokens are taken first and temperature and
    top-p run on those alone: the same set and probabilities as transformers' chain
    (temperature keeps the order, top-p only removes), without sorting and sampling over the
    whole vocabulary for every token (a few ms each on a CPU).
    """

    def __init__(self, prompt: torch.Tensor, sampling: Sampling):
        self.greedy = sampling.greedy
        self.top_k = 0 if sampling.greedy else sampling.top_k
        chain = logits_processors(sampling)
        self.penalty = next((p for p in chain if isinstance(p, RepetitionPenaltyLogitsProcessor)), None)
        self.warpers = [p for p in chain if p is not self.penalty and type(p).__name__ != "TopKLogitsWarper"]
        n = prompt.shape[-1]
        self.history = torch.empty((1, n + sampling.max_new_tokens), dtype=torch.long, device=prompt.device)
        self.history[:, :n] = prompt
        self.length = n
        self.generator = torch.Generator(device=prompt.device).manual_seed(sampling.seed)

    def candidates(self, logits: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The token ids sampling draws from (None: the whole vocabulary) and their probabilities."""
        seen = self.history[:, : self.length]
        if self.penalty is not None:
            logits = self.penalty(seen, logits)
        ids = None
        if self.top_k:
            kth = torch.topk(logits, min(self.top_k, logits.shape[-1])).values[:, -1:]
            ids = (logits[0] >= kth[0]).nonzero().squeeze(-1)  # ties with the k-th stay in, as in TopKLogitsWarper
            logits = logits[:, ids]
        for warper in self.warpers:
            logits = warper(seen, logits)
        return ids, torch.softmax(logits, -1)

    def pick(self, logits: torch.Tensor) -> int:
        """The next token from the last position's logits (shape [1, vocab], float32)."""
        if self.greedy:
            if self.penalty is not None:
                logits = self.penalty(self.history[:, : self.length], logits)
            token = int(logits.argmax(-1))
        else:
            ids, probs = self.candidates(logits)
            choice = int(torch.multinomial(probs, 1, generator=self.generator))
            token = int(ids[choice]) if ids is not None else choice
        if self.length < self.history.shape[1]:
            self.history[0, self.length] = token
            self.length += 1
        return token


# -- the window on sampling ----------------------------------------------------------------------


@dataclass
class Candidate:
    token_id: int
    token: str  # shown with visible whitespace
    p_model: float  # the model's probability (temperature 1, after the repetition penalty)
    p_tempered: float  # after temperature, before top-k / top-p
    p_final: float  # the probability the sampler actually draws it with (0 when cut)
    in_top_k: bool
    in_top_p: bool

    @property
    def sampled_from(self) -> bool:
        return self.p_final > 0


@dataclass
class Distribution:
    label: str
    candidates: list[Candidate] = field(default_factory=list)
    top_k_size: int = 0  # tokens left after top-k (the whole vocabulary when off)
    top_k_mass: float = 0.0  # the tempered probability those tokens hold
    top_p_size: int = 0  # tokens left after top-k and top-p: the set the sampler draws from
    top_p_mass: float = 0.0  # the tempered probability that set covers
    greedy: bool = False


def visible(text: str) -> str:
    """A token as a label: spaces and line breaks made visible."""
    return text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") or "∅"


def next_token_distribution(
    logits: torch.Tensor,
    sampling: Sampling,
    tokenizer=None,
    history: torch.Tensor | None = None,
    n: int = 15,
    label: str = "",
) -> Distribution:
    """The top ``n`` candidates for the next token and which survive each stage of sampling."""
    logits = logits.detach().float().reshape(1, -1)
    if history is None:
        history = torch.empty((1, 0), dtype=torch.long)
    if sampling.repetition_penalty != 1.0 and history.numel():
        logits = RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty)(history, logits)
    p_model = torch.softmax(logits, -1)[0]
    tempered = logits if sampling.greedy else TemperatureLogitsWarper(sampling.temperature)(history, logits)
    p_tempered = torch.softmax(tempered, -1)[0]
    after_k, final = _filters(sampling, history, logits, tempered)
    in_k = torch.isfinite(after_k[0])
    in_p = torch.isfinite(final[0])
    p_final = torch.softmax(final, -1)[0]
    order = torch.argsort(p_tempered, descending=True)[:n].tolist()
    candidates = [
        Candidate(
            token_id=i,
            token=visible(tokenizer.decode([i])) if tokenizer is not None else str(i),
            p_model=float(p_model[i]),
            p_tempered=float(p_tempered[i]),
            p_final=float(p_final[i]),
            in_top_k=bool(in_k[i]),
            in_top_p=bool(in_p[i]),
        )
        for i in order
    ]
    return Distribution(
        label=label,
        candidates=candidates,
        top_k_size=int(in_k.sum()),
        top_k_mass=float(p_tempered[in_k].sum()),
        top_p_size=int(in_p.sum()),
        top_p_mass=float(p_tempered[in_p].sum()),
        greedy=sampling.greedy,
    )


def _filters(sampling: Sampling, history, logits, tempered) -> tuple[torch.Tensor, torch.Tensor]:
    """The tempered logits after top-k, and after top-k and top-p (cut tokens at -inf): the same
    processors the sampler runs, applied one stage at a time to read off membership."""
    stages = [p for p in logits_processors(sampling) if type(p).__name__ in ("TopKLogitsWarper", "TopPLogitsWarper")]
    after_k = tempered
    if stages and type(stages[0]).__name__ == "TopKLogitsWarper":
        after_k = stages.pop(0)(history, tempered.clone())
    final = stages[0](history, after_k.clone()) if stages else after_k
    if sampling.greedy:
        final = torch.full_like(logits, float("-inf"))
        final[0, int(logits.argmax())] = 0.0
    return after_k, final


SAMPLED, CUT_BY_P, CUT_BY_K = "#16a34a", "#f59e0b", "#9ca3af"


def distribution_figure(distributions: list[Distribution], sampling: Sampling) -> go.Figure:
    """Bars of the top candidates, one panel per model: grey outline at temperature 1, filled at
    the current temperature, coloured by whether top-k and top-p keep the token."""
    n = max(1, len(distributions))
    fig = make_subplots(
        rows=1, cols=n, subplot_titles=[d.label for d in distributions] or [""], horizontal_spacing=0.12
    )
    for col, dist in enumerate(distributions, 1):
        for trace in _bars(dist, legend=col == 1):
            fig.add_trace(trace, row=1, col=col)
        title = dist.label if len(dist.label) <= 40 else dist.label[:38] + "…"
        fig.layout.annotations[col - 1].update(
            text=f"{title}<br><sub>{_caption(dist, sampling)}</sub>", yanchor="bottom"
        )
    for name, color in (
        ("at this temperature: sampled from", SAMPLED),
        ("cut by top-p", CUT_BY_P),
        ("cut by top-k", CUT_BY_K),
    ):
        fig.add_trace(go.Bar(x=[None], y=[None], name=name, marker=dict(color=color), orientation="h"), row=1, col=1)
    fig.update_layout(
        barmode="overlay",
        height=120 + 24 * max((len(d.candidates) for d in distributions), default=10),
        margin=dict(l=10, r=10, t=130, b=20),
        legend=dict(orientation="h", yanchor="bottom", y=1.2, x=0),
        bargap=0.25,
    )
    top = max((max(c.p_model, c.p_tempered) for d in distributions for c in d.candidates), default=1.0)
    fig.update_xaxes(range=[0, min(1.0, top * 1.08) or 1.0], tickformat=".0%" if top > 0.05 else ".1e")
    return fig


def _bars(dist: Distribution, legend: bool) -> list[go.Bar]:
    """An outline bar at temperature 1 and, over it, a filled bar at the current temperature."""
    cands = list(reversed(dist.candidates))  # most likely at the top
    labels = [f"{c.token} " for c in cands]
    colors = [SAMPLED if c.sampled_from else CUT_BY_P if c.in_top_k else CUT_BY_K for c in cands]
    model = go.Bar(
        x=[c.p_model for c in cands],
        y=labels,
        orientation="h",
        name="temperature 1 (the model)",
        marker=dict(color="rgba(0,0,0,0)", line=dict(color="#6b7280", width=1.5)),
        showlegend=legend,
        hovertemplate="%{y}: %{x:.3f} at T=1<extra></extra>",
    )
    tempered = go.Bar(
        x=[c.p_tempered for c in cands],
        y=labels,
        orientation="h",
        name="at this temperature",
        marker=dict(color=colors),
        showlegend=False,
        customdata=[[c.p_final, c.in_top_k, c.in_top_p] for c in cands],
        hovertemplate=(
            "%{y}: %{x:.3f} at this temperature; drawn with %{customdata[0]:.3f}"
            "<br>in top-k: %{customdata[1]}, in top-p: %{customdata[2]}<extra></extra>"
        ),
    )
    return [model, tempered]


def _caption(dist: Distribution, sampling: Sampling) -> str:
    if dist.greedy:
        return "greedy: always the top token"
    k = f"top-k {sampling.top_k} keeps {dist.top_k_size} ({dist.top_k_mass:.1%})" if sampling.top_k else "top-k off"
    p = f"top-p {sampling.top_p:g} keeps {dist.top_p_size} ({dist.top_p_mass:.1%})"
    return f"T={sampling.temperature:g} · {k}<br>{p} of the probability"
