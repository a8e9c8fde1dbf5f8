"""What a generation is asked to do, apart from the code that does it (studio.generate.synthetic,
studio.generate.pairs), so that the CLI builds its flags and the Data tab its form without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.schema import option


@dataclass
class GenerateOptions:
    n: int = option(20, "How many new rows to ask the teacher for.", minimum=1, maximum=500, label="Rows")
    seeds_per_prompt: int = option(
        3, "Seed instructions shown to the teacher for each new one.", minimum=1, maximum=8, label="Seeds shown"
    )
    max_new_tokens: int = option(
        256, "Longest answer the teacher writes, in tokens.", minimum=8, maximum=4096, label="Answer tokens"
    )
    temperature: float = option(
        0.8, "The teacher's sampling temperature (higher: more varied instructions).", minimum=0.0, maximum=2.0
    )
    random_seed: int = option(
        0, "Seed of which seed rows are shown and of the teacher's sampling.", minimum=0, maximum=2**32 - 1
    )
    dedup: list[str] = option(
        default_factory=lambda: ["exact", "near"],
        help="Duplicates removed among the new rows and against the seeds (semantic loads an embedder).",
        choices=["exact", "near", "semantic"],
        label="Duplicates",
    )


@dataclass
class PairOptions:
    k: int = option(4, "Answers sampled per prompt (best and worst become a pair).", minimum=2, maximum=8)
    max_new_tokens: int = option(128, "Longest sampled answer, in tokens.", minimum=8, maximum=2048)
    temperature: float = option(0.9, "Sampling temperature of the K answers.", minimum=0.05, maximum=2.0)
    min_margin: float = option(
        1.0,
        "Keep a pair only when the best answer's score beats the worst's by at least this.",
        minimum=0.0,
        maximum=100.0,
    )
    limit: int = option(50, "At most this many prompts are used.", minimum=1, maximum=1000)
    random_seed: int = option(
        0, "Seed of the first answer's sampling (answer i uses seed + i).", minimum=0, maximum=2**32 - 1
    )
