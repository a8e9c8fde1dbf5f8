"""One module per training method; each has ``build(plan, model, args, callbacks)`` -> a TRL trainer,
and a method whose model is not the causal LM also ``load_model(plan)`` (the reward model's scorer).

- ``sft``, ``dpo``, ``orpo``, ``kto``, ``reward``, ``grpo``: the builders, by the method table's names
  (studio.config.method_table says what each needs; studio.train.trainer.MODULES maps them);
- ``common``: what the builders share (adapter config, datasets, assembling the TRL trainer);
- ``grpo_rewards``: GRPO's built-in reward functions and a reward-model run as one;
- ``grpo_answers``: GRPO's sampled answers and their rewards, written to completions.jsonl.

This file imports none of them: importing a reward function must not load every trainer.
"""
