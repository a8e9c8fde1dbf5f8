"""What cleaning does, as options: one dataclass whose fields make the Data tab's form and the
flags of ``python -m studio data clean`` (studio.schema). The steps are in studio.data.clean.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.schema import ConfigError, Problem, bounds_problems, option

DEDUP_METHODS = ["exact", "near", "semantic"]


@dataclass
class CleanOptions:
    special_tokens: str = option(
        "drop",
        "Rows whose text holds chat-template tokens (<|im_start|>, [INST], <s>...): drop the row, strip the tokens, "
        "or keep it as is.",
        choices=["drop", "strip", "keep"],
        label="Chat-template tokens",
    )
    drop_empty: bool = option(
        True, "Drop rows whose answer (or text) is empty or only whitespace.", label="Drop empty answers"
    )
    exclude: list[str] = option(
        default_factory=list,
        help="Drop rows that contain any of these words or phrases (case-insensitive).",
        label="Exclude rows containing",
    )
    min_tokens: int | None = option(
        None,
        "Drop rows shorter than this many tokens (chat template included; empty: no bound).",
        minimum=0,
        maximum=10**7,
        label="Min tokens",
    )
    max_tokens: int | None = option(
        None,
        "Drop rows longer than this many tokens (chat template included; empty: no bound).",
        minimum=1,
        maximum=10**7,
        label="Max tokens",
    )
    min_chars: int | None = option(
        None,
        "Drop rows with fewer characters than this (all texts together; empty: no bound).",
        minimum=0,
        maximum=10**9,
        label="Min characters",
    )
    max_chars: int | None = option(
        None,
        "Drop rows with more characters than this (all texts together; empty: no bound).",
        minimum=1,
        maximum=10**9,
        label="Max characters",
    )
    dedup: list[str] = option(
        default_factory=lambda: ["exact"],
        help="Duplicates to remove: exact (same text once case and spacing are normalised), "
        "near (MinHash/LSH over character 5-grams, at the Jaccard threshold below), "
        "semantic (the same meaning in other words: sentence embeddings, studio.data.semantic).",
        choices=DEDUP_METHODS,
        label="Duplicates",
    )
    near_threshold: float = option(
        0.8,
        "Jaccard similarity from which two rows count as near duplicates.",
        minimum=0.3,
        maximum=1.0,
        step=0.01,
        label="Near-duplicate threshold",
    )
    semantic_threshold: float | None = option(
        None,
        "Cosine similarity from which two rows mean the same (empty: the embedder's own, 0.85 for a "
        "sentence model, 0.25 for a base model's states).",
        minimum=0.0,
        maximum=1.0,
        label="Semantic threshold",
    )
    semantic_model: str = option(
        "auto",
        "What embeds rows for semantic dedup: a sentence-transformers model (Hub id in the local cache or "
        "folder), a model folder (its mean hidden states), or auto (all-MiniLM-L6-v2 if cached, else the "
        "embedded base model).",
        label="Semantic embedder",
    )
    val_fraction: float = option(
        0.0,
        "Share of rows held out for validation.",
        minimum=0.0,
        maximum=0.5,
        step=0.01,
        label="Validation share",
    )
    seed: int = option(42, "Seed of the train/validation split.", minimum=0, maximum=2**32 - 1, label="Split seed")

    def problems(self) -> list[Problem]:
        found = bounds_problems(self)  # the dedup methods too: its choices apply to each item
        for low, high in (("min_tokens", "max_tokens"), ("min_chars", "max_chars")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                found.append(Problem(low, f"{a} is above {high} {b}; lower it or raise {high}"))
        return found

    def check(self) -> None:
        if problems := self.problems():
            raise ConfigError(problems)
