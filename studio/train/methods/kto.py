"""KTO: TRL's KTOTrainer on answers labelled good or bad (no pairs needed).

Rows arrive as {prompt, completion, label} (studio.train.preflight_rl; a preference pair gives
one good and one bad example). TRL estimates the KL term from mismatched prompt/answer pairs
within a batch taken in order, so the examples are shuffled here, seeded, and a batch needs at
least two. With LoRA the reference is the base with the adapter off, as for DPO.
"""

from __future__ import annotations

from trl import KTOConfig, KTOTrainer

from studio.train.methods.common import adapter_config, assemble, datasets
from studio.train.plan import Plan


def build(plan: Plan, model, args: dict, callbacks: list):
    t, k = plan.config.train, plan.config.kto
    kto_args = KTOConfig(
        **args,
        max_length=t.max_length,
        beta=plan.config.dpo.beta,
        desirable_weight=k.kto_desirable_weight,
        undesirable_weight=k.kto_undesirable_weight,
        dataset_num_proc=None,
    )
    data = datasets(plan, args, shuffle_seed=t.seed, min_val=2)
    return assemble(KTOTrainer, plan, model, kto_args, callbacks, data, adapter_config(plan), ref_model=None)
