"""The sections only some methods read: DPO's (and ORPO's, KTO's beta), KTO's weights, GRPO's
groups and reward functions (studio.config.method_table says which method reads what).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.config.choices import DPO_LOSSES
from studio.schema import option


@dataclass
class DPOConfig:
    beta: float = option(
        0.1,
        "DPO / KTO beta: how far the policy may move from the reference (higher stays closer); 0.1 is usual. "
        "ORPO: the weight of its odds-ratio term beside the SFT loss.",
        above=0.0,
        maximum=100.0,
    )
    dpo_loss: str = option(
        "sigmoid",
        "DPO loss variant: sigmoid is the original DPO; ipo, hinge, robust, apo_zero... are TRL's alternatives.",
        choices=DPO_LOSSES,
    )
    dpo_label_smoothing: float = option(
        0.0,
        "Assumed share of flipped preference labels, for the robust (below 0.5) and exo_pair (between 0 and 1, "
        "e.g. 1e-3) losses.",
        minimum=0.0,
        maximum=1.0,
        step=0.001,
        label="DPO label smoothing",
    )


def _weight(default: float, help: str):
    """A reward function's weight in GRPO's sum (0 turns the function off)."""
    return option(default, help, minimum=0.0, maximum=100.0)


@dataclass
class KTOConfig:
    """KTO's weights on good and bad examples (it reads beta from the DPO section)."""

    kto_desirable_weight: float = option(
        1.0, "KTO weight on the good (label true) examples; raise it when they are the fewer.", above=0.0, maximum=100.0
    )
    kto_undesirable_weight: float = option(
        1.0, "KTO weight on the bad (label false) examples; keep weight x rows about equal.", above=0.0, maximum=100.0
    )


@dataclass
class GRPOConfig:
    """GRPO: the sampled groups and the built-in reward functions (studio.train.methods.grpo_rewards)."""

    num_generations: int = option(
        4, "Group size: answers sampled per prompt, each scored against its group's mean.", minimum=2, maximum=64
    )
    max_completion_length: int = option(
        32, "Longest sampled answer in tokens; sampling dominates a GRPO step's time.", minimum=1, maximum=8192
    )
    kl_beta: float = option(
        0.0,
        "KL penalty towards the base; 0 skips the reference pass, 0.01-0.05 stays close.",
        minimum=0.0,
        maximum=10.0,
    )
    grpo_temperature: float = option(
        1.0, "Sampling temperature of the group's answers; lower is less varied.", above=0.0, maximum=5.0, step=0.05
    )
    num_iterations: int = option(
        1, "Optimizer passes over each generated batch (GRPO's mu); above 1 reuses samples.", minimum=1, maximum=16
    )
    reward_exact: float = _weight(
        1.0, "Weight of the exact-answer reward: 1 when the final answer (after 'Answer:') equals answer_column."
    )
    answer_column: str = option("answer", "The dataset column holding the reference answers (exact-answer reward).")
    reward_format: float = _weight(0.0, "Weight of the format reward: 1 when the whole answer matches format_regex.")
    format_regex: str = option(r"\s*Answer: -?\d+\s*", "Python regular expression a well-formatted answer matches.")
    reward_length: float = _weight(
        0.0, "Weight of the length reward: 1 at length_target characters, 0 at zero or twice the target."
    )
    length_target: int = option(200, "Answer length in characters the length reward aims at.", minimum=1, maximum=10**6)
    reward_no_repeat: float = _weight(0.0, "Weight of the no-repetition reward: the share of distinct word 3-grams.")
    reward_model: float = _weight(
        0.0, "Weight of the trained reward model's score (a reward run of this studio, named in reward_model_run)."
    )
    reward_model_run: str = option(
        "", "The completed reward-model run (method reward) whose score is a reward, e.g. 20261129-1200-reward."
    )
