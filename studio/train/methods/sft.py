"""SFT: TRL's SFTTrainer on rows already tokenized with their loss masks (studio.data.render)."""

from __future__ import annotations

from trl import SFTConfig, SFTTrainer

from studio.train.methods.common import assemble, datasets
from studio.train.plan import Plan


def build(plan: Plan, model, args: dict, callbacks: list):
    t = plan.config.train
    padding_free = t.padding_free or t.packing  # TRL's bfd packing is padding-free too
    sft_args = SFTConfig(
        **args,
        # Rows arrive tokenized and truncated (studio.data.render); TRL only truncates when packing.
        max_length=t.max_length if t.packing else None,
        packing=t.packing,
        padding_free=padding_free,
        include_num_input_tokens_seen="all" if padding_free else "non_padding",
        completion_only_loss=False,
        dataset_num_proc=None,
    )
    return assemble(SFTTrainer, plan, model, sft_args, callbacks, datasets(plan, args))
