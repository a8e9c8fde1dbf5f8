"""The chat's sampling settings, apart from the sampler (studio.chat.sampling) so that the CLI
builds its ``--temperature``, ``--top-k``, ... flags without loading torch.

    from studio.chat.options import Sampling
    Sampling(temperature=0.7, top_k=50, top_p=0.9, seed=1)
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.schema import option


@dataclass
class Sampling:
    temperature: float = option(
        0.7,
        "Divides the logits: below 1 sharpens, above 1 flattens the distribution.",
        minimum=0.01,
        maximum=2.0,
        step=0.05,
    )
    top_k: int = option(50, "Sample only among the k most likely tokens (0: no limit).", minimum=0, maximum=500)
    top_p: float = option(
        0.9,
        "Sample only among the most likely tokens whose probabilities add up to p.",
        minimum=0.01,
        maximum=1.0,
        step=0.01,
    )
    repetition_penalty: float = option(
        1.0, "Above 1 discourages tokens already in the conversation.", minimum=1.0, maximum=2.0, step=0.05
    )
    max_new_tokens: int = option(128, "Longest reply in tokens.", minimum=1, maximum=2048)
    seed: int = option(0, "Random seed; the same seed and settings give the same reply.", minimum=0, maximum=2**32 - 1)
    greedy: bool = option(False, "Always take the most likely token (ignores temperature, top-k, top-p).")
