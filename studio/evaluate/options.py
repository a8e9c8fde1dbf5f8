"""What an evaluation scores, apart from the pipeline (studio.evaluate.pipeline) so that the CLI
builds its flags without loading torch.

    from studio.evaluate.options import EvalOptions
    EvalOptions(max_rows=64, generate_rows=8)
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.schema import option

HELD_OUT_PROMPTS = 8  # prompts answered by both models (the evaluation) or taken for batch compare


@dataclass
class EvalOptions:
    max_rows: int = option(64, "Held-out rows scored for perplexity and preference (0: all).", minimum=0, maximum=10**7)
    generate_rows: int = option(
        HELD_OUT_PROMPTS,
        "Held-out prompts both models answer: scored by ROUGE-L, BLEU, exact match (SFT) or the run's rewards (GRPO).",
        minimum=0,
        maximum=10**5,
    )
    max_new_tokens: int = option(64, "Longest generated answer in tokens.", minimum=1, maximum=1024)
    train_sample: int = option(
        0,
        "For a run without a validation split: score a seeded sample of this many TRAINING rows instead "
        "(0: refuse). The adapter has seen those rows, so its numbers are optimistic.",
        minimum=0,
        maximum=10**7,
    )


@dataclass
class JudgeOptions:
    judge_prompts: int = option(
        8, "Held-out prompts both sides answer; each judge compares every pair in both orders.", minimum=1, maximum=500
    )
    answer_tokens: int = option(96, "Longest answer in tokens from each side (greedy).", minimum=1, maximum=2048)
    judge_tokens: int = option(
        256, "Longest judge reply in tokens: its reasons and its verdict.", minimum=1, maximum=4096
    )
    people_votes: int = option(
        64,
        "People's votes from the chat arena the judges also decide, to measure their agreement with people (0: skip).",
        minimum=0,
        maximum=10**5,
    )
