"""One module per training method; each has ``build(plan, model, args, callbacks)`` -> a TRL trainer,
and a method whose model is not the causal LM also ``load_model(plan)`` (the reward model's scorer).

What each method needs (its data, reference model, passes, evaluation, TRL trainer) is its row in
the method table, studio.config.method_table; ``MODULES`` holds one module per row, by its name.
"""

from __future__ import annotations

from studio.train.methods import dpo, grpo, kto, orpo, reward, sft

MODULES = {module.__name__.rsplit(".", 1)[1]: module for module in (sft, dpo, orpo, kto, reward, grpo)}
