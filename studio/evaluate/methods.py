"""Each method's own measure, base versus trained, on the run's held-out rows.

- GRPO: both models answer the held-out prompts greedily; each answer is scored by the run's
  reward functions (studio.train.methods.grpo_rewards, the run's weights): the mean of each function and of
  the weighted total. Greedy, so the figure is what the model answers, not what it samples.
- Reward model: pairwise accuracy on the held-out pairs (the share whose chosen answer scores
  above the rejected one) and the mean score margin, for the base with the run's freshly drawn
  score head (what training started from) and for the trained reward model.
- KTO: the mean per-token log-probability of the good (label true) and of the bad answers, and
  their gap; training should raise the gap.
- DPO and ORPO: preference accuracy and margins (studio.evaluate.pipeline).
"""

from __future__ import annotations

from collections.abc import Callable

from studio.chat.sampling import Sampling
from studio.data.render import render_chat
from studio.models.scorer import RewardScorer
from studio.train.methods.grpo_rewards import reward_functions
from studio.train.preflight_rl import unpaired

Progress = Callable[[float, str], None]


def grpo_rewards(engine, sources: list, rows: list[dict], run, options, progress: Progress):
    """({"base": {...}, "adapter": {...}}, generations): mean rewards of greedy answers to held-out prompts."""
    config = run.config()
    prompts = [r for r in rows if r.get("messages") and r["messages"][-1]["role"] == "user"][: options.generate_rows]
    if not prompts:
        return {}, []
    greedy = Sampling(greedy=True, max_new_tokens=options.max_new_tokens)
    answers = []
    for i, row in enumerate(prompts):
        progress(0.1 + 0.6 * i / len(prompts), f"answering held-out prompt {i + 1} of {len(prompts)}")
        answers.append(engine.replies(row["messages"], sources, greedy))
    progress(0.75, "scoring the answers with the run's reward functions")
    funcs, weights = reward_functions(config.grpo, run.path.parent)
    columns = {k: [r.get(k) for r in prompts] for k in prompts[0] if k != "messages"}
    out = {}
    for index, label in enumerate(("base", "adapter")):
        texts = [a[index] for a in answers]
        scored = {f.__name__: f(completions=texts, prompts=[r["messages"] for r in prompts], **columns) for f in funcs}
        stats = {f"reward/{name}": sum(s) / len(s) for name, s in scored.items()}
        stats["reward"] = sum(w * stats[f"reward/{f.__name__}"] for f, w in zip(funcs, weights, strict=True))
        out[label] = stats
    reference = columns.get(config.grpo.answer_column, [""] * len(prompts))
    generations = [
        {"prompt": r["messages"][-1]["content"], "reference": str(ref or ""), "base": a[0], "adapter": a[1]}
        for r, ref, a in zip(prompts, reference, answers, strict=True)
    ]
    return out, generations


def reward_model_accuracy(run, source: str, rows: list[dict], progress: Progress) -> dict:
    """Pairwise accuracy and margin of the base (fresh score head) and the trained reward model."""
    pairs = [r for r in rows if "chosen" in r]
    if not pairs:
        return {}
    config = run.config()
    chosen = [r["prompt"] + r["chosen"] for r in pairs]
    rejected = [r["prompt"] + r["rejected"] for r in pairs]
    out = {}
    scorers = {
        "base": lambda: RewardScorer.initial(config.model.model, config.train.seed, config.train.max_length),
        "adapter": lambda: RewardScorer.from_run_folder(run.path, source),
    }
    for i, (label, make) in enumerate(scorers.items()):
        progress(0.1 + 0.4 * i, f"reward scores of the {label} on {len(pairs)} held-out pairs")
        scorer = make()
        margins = [c - r for c, r in zip(scorer.score(chosen), scorer.score(rejected), strict=True)]
        out[label] = {
            "rm_accuracy": sum(m > 0 for m in margins) / len(margins),
            "rm_margin": sum(margins) / len(margins),
        }
    return out


def kto_gap(engine, keys: dict, rows: list[dict], config, progress: Progress, score) -> dict:
    """Mean per-token log-probability of the good and the bad answers, per model, and their gap."""
    examples = [e for r in rows for e in unpaired(r)]
    sides = {
        name: [
            render_chat(engine.tokenizer, p + c, config.train.max_length) for p, c, label in examples if label == want
        ]
        for name, want in (("desirable_logp", True), ("undesirable_logp", False))
    }
    out = {}
    for i, (label, key) in enumerate(keys.items()):
        progress(0.55 + 0.2 * i, f"log-probabilities of good and bad answers, {label}")
        stats = {}
        for name, rendered in sides.items():
            if rendered:
                _, _, logps = score(engine, key, [(x.input_ids, x.assistant_masks) for x in rendered])
                tokens = [max(1, sum(x.assistant_masks)) for x in rendered]
                stats[name] = sum(lp / n for lp, n in zip(logps, tokens, strict=True)) / len(rendered)
        if len(stats) == 2:  # the gap needs held-out answers of both kinds
            stats["kto_gap"] = stats["desirable_logp"] - stats["undesirable_logp"]
        out[label] = stats
    return out
