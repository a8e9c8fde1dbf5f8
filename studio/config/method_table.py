"""The one table of training methods: everything a method needs, read by every part that cares.

    METHODS["dpo"].rows                   # "pair": what one training example is
    METHODS["grpo"].keeps_reference(0.0)  # False: GRPO's KL reference runs only when kl_beta > 0
    METHODS["kto"].takes("chat", "alpaca")  # False: KTO reads labelled messages, not Alpaca rows

Who reads which column: the config's choices and help (``method_help``), the checks and the data
refusal (``formats``, ``needs``), the plan's preflight (``rows``), the memory estimate (``sequences``,
``reference``, ``head``), the benchmark's FLOPs per token (``reference``, ``scorer``), the evaluation
(``measures``), the presets and refusals (``preset``) and the trainer (``studio.train.methods.<name>``, which builds ``trainer``). A new
method is a row here and a module in studio.train.methods; tests/test_one_table.py holds the
two together.

It sits beside the config dataclasses (not in studio.train) because the config's choices read it,
and the config is below training: the UI reads the table without importing any model library.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.config.choices import FORMATS


@dataclass(frozen=True)
class Head:
    """How a method's output head spends memory at the step's peak (studio.train.activations).

    ``vocab_buffers``: fp32 [tokens, vocab] buffers alive at once where the logits are
    materialised (on a CPU for every method; on CUDA for those not on TRL's chunked kernel).
    ``chunked_on_cuda``: the method's log-probabilities go through TRL's chunked kernel on CUDA.
    """

    vocab_buffers: int
    chunked_on_cuda: bool
    why: str
    labelled_only: bool = False  # the head projects only the labelled tokens (studio.patches.logprobs)


@dataclass(frozen=True)
class Method:
    """One training method.

    ``rows``: what one example is: "sequence" (rendered with its loss mask), "pair" (prompt, chosen,
    rejected), "labelled" (prompt, completion, label) or "prompt" (answers are sampled).
    ``formats``: the data formats (studio.data.formats) it trains on; ``needs`` names them for a refusal.
    ``reference``: a frozen reference model (a copy in a full fine-tune, the base with the adapter
    off under LoRA) runs one forward per token without gradient: "always", "kl" (only when
    grpo.kl_beta > 0) or "none".
    ``sequences``: sequences of one example whose activations are kept for backward (chosen and
    rejected: 2); 0 means the sampled group (grpo.num_generations).
    ``measures``: what the evaluation scores, base against adapter (studio.evaluate.pipeline).
    ``preset``: the preset that starts it (studio.train.presets); its dataset is the method's shipped
    example, which a refusal names. ORPO, KTO and reward models read DPO's pairs: its preset serves them.
    ``scorer``: the model is a one-output score head, not a language model: it answers nothing.
    ``adapters``: the fine-tuning types it trains with (studio.train.checks refuses the others);
    ``min_batch``: the smallest batch its loss works on (KTO estimates its KL term across a batch).
    ``options``: the config sections of its own it reads (dpo, kto, grpo): the form shows them for it.
    """

    title: str
    summary: str
    rows: str
    formats: tuple[str, ...]
    needs: str
    reference: str
    sequences: int
    head: Head
    measures: tuple[str, ...]
    trainer: str
    preset: str
    scorer: bool = False
    adapters: tuple[str, ...] = ("lora", "qlora", "full")
    min_batch: int = 1
    options: tuple[str, ...] = ()

    def takes(self, kind: str, fmt: str = "") -> bool:
        """Whether it trains on data of this kind (chat, text, preference, prompt) and format."""
        if fmt in FORMATS:
            return fmt in self.formats
        return kind in {FORMATS[f].kind for f in self.formats}

    def keeps_reference(self, kl_beta: float = 0.0) -> bool:
        return self.reference == "always" or (self.reference == "kl" and kl_beta > 0)

    def sequences_per_example(self, group: int) -> int:
        return self.sequences or group


PAIRS = "preference pairs (prompt, chosen, rejected)"
CHAT = ("alpaca", "sharegpt", "messages")
# studio.patches.logprobs: the half-precision projection and its gradient, the fp32 copy, the
# log-softmax cross-entropy keeps, its backward's softmax and the fp32 gradient.
PLAIN_LOGPROBS = 5

METHODS = {
    "sft": Method(
        "SFT",
        "imitate the answers",
        "sequence",
        (*CHAT, "text", "preference", "kto"),
        "conversations or text with answers to imitate",
        "none",
        1,
        Head(PLAIN_LOGPROBS, True, "the plain log-probabilities of studio.patches.logprobs", labelled_only=True),
        ("perplexity", "answers"),
        "SFTTrainer",
        "Quick CPU demo: LoRA SFT",
    ),
    "dpo": Method(
        "DPO",
        "prefer the chosen answer over the rejected one, against a reference model",
        "pair",
        ("preference",),
        PAIRS,
        "always",
        2,
        Head(PLAIN_LOGPROBS, True, "the plain log-probabilities of the answers (the reference pass keeps none)", True),
        ("perplexity", "preference", "implicit_reward"),
        "DPOTrainer",
        "Quick CPU demo: LoRA DPO",
        options=("dpo",),
    ),
    "orpo": Method(
        "ORPO",
        "prefer chosen over rejected with no reference model (an SFT loss plus an odds ratio)",
        "pair",
        ("preference",),
        PAIRS,
        "none",
        2,
        # TRL's ORPO calls the model for the logits, takes a log-softmax for the NLL and another for
        # the odds ratio: the logits, two log-softmaxes and the gradient of each.
        Head(6, False, "the model's logits and two log-softmaxes with their gradients"),
        ("perplexity", "preference"),
        "ORPOTrainer",
        "Quick CPU demo: LoRA DPO",
        options=("dpo",),
    ),
    "kto": Method(
        "KTO",
        "answers labelled good or bad (no pairs needed)",
        "labelled",
        ("kto", "messages", "preference"),
        "answers labelled good or bad (messages and label; format kto) or pairs",
        "always",
        1,  # the mismatched KL partner and the reference passes run without gradient: no rows kept
        Head(PLAIN_LOGPROBS, True, "the answers' plain log-probabilities; the KL and reference passes keep none", True),
        ("perplexity", "kto_gap"),
        "KTOTrainer",
        "Quick CPU demo: LoRA DPO",
        min_batch=2,
        options=("dpo", "kto"),
    ),
    "reward": Method(
        "Reward model",
        "train a reward model (a score head) on preference pairs",
        "pair",
        ("preference",),
        PAIRS,
        "none",
        2,
        Head(0, False, "a scalar score per sequence: no vocabulary-sized logits"),
        ("score_accuracy",),
        "RewardTrainer",
        "Quick CPU demo: LoRA DPO",
        scorer=True,
        adapters=("lora", "full"),  # 4-bit weights under a new score head are not supported here
    ),
    "grpo": Method(
        "GRPO",
        "sample answers to prompts and reinforce those the reward functions score high",
        "prompt",
        ("prompt",),
        "prompts to answer (a prompt column, and the reference answers for the exact reward)",
        "kl",
        0,  # the group; a rough allowance: prompt plus max_completion_length, counted as max_length
        Head(PLAIN_LOGPROBS, False, "the completions' log-probabilities over the group"),
        ("rewards",),
        "GRPOTrainer",
        "Quick CPU demo: GRPO arithmetic",
        options=("grpo",),
    ),
}
METHOD_NAMES = list(METHODS)


def method_help() -> str:
    """The method field's help: each method and what it learns from, from the table."""
    return "; ".join(f"{name}: {m.summary}" for name, m in METHODS.items()) + "."
