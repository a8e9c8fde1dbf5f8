"""Named starting points that fill the whole Train form (and configs for the CLI).

    config = preset("Quick CPU demo: LoRA SFT")      # a RunConfig
    method_preset("orpo")                              # the preset that starts ORPO, method set to orpo
    starter_text("grpo")                               # its shipped example and preset, for messages
    python -m studio train configs/quick_lora_sft.yaml   # the same as a file
    python -m studio.train.presets                       # rewrite configs/*.yaml from the presets

Each preset states what it is for in one line; everything it does not set keeps its default.
The files in configs/ are generated from the presets (tests/test_config.py checks they match).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from studio.config import EMBEDDED_MODEL, METHODS, RunConfig


def _quick_sft() -> RunConfig:
    c = RunConfig(run_name="quick-lora-sft")
    c.model.model = EMBEDDED_MODEL
    c.adapter.lora_r, c.adapter.lora_alpha, c.adapter.target_modules = 8, 16, "all-linear"
    c.data.dataset, c.data.val_fraction = "assets/sample_sft.jsonl", 0.05
    t = c.train
    t.max_steps, t.batch_size, t.learning_rate, t.warmup_ratio = 40, 4, 5e-4, 0.05
    t.eval_steps, t.save_steps = 20, 20
    c.probes.probe_prompts = "Who are you?\nWhat is the capital of France?"
    c.probes.probe_max_new_tokens = 32
    return c


def _quick_dpo() -> RunConfig:
    c = _quick_sft()
    c.run_name = "quick-lora-dpo"
    c.data.dataset = "assets/sample_dpo.jsonl"
    c.train.method = "dpo"
    c.train.max_steps, c.train.batch_size, c.train.learning_rate = 30, 2, 1e-4
    c.train.eval_steps, c.train.save_steps = 10, 10
    c.dpo.beta = 0.1
    return c


def _quick_grpo() -> RunConfig:
    """The shipped arithmetic task: sums with a fixed answer format, scored by exact answer and format."""
    c = _quick_sft()
    c.run_name = "quick-lora-grpo"
    c.adapter.lora_r, c.adapter.lora_alpha = 16, 32
    c.data.dataset, c.data.val_fraction = "assets/arithmetic_grpo.jsonl", 0.0
    c.data.val_dataset = "assets/arithmetic_grpo.val.jsonl"
    t = c.train
    t.method, t.max_steps, t.batch_size, t.learning_rate, t.warmup_ratio = "grpo", 40, 2, 3e-4, 0.0
    t.max_length, t.eval_steps, t.save_steps = 256, 0, 20
    g = c.grpo
    g.num_generations, g.max_completion_length, g.grpo_temperature = 4, 12, 0.7
    # Few answers match the format at first: the length reward (10 characters, as in "Answer: 42")
    # gives every group a spread from the first step, so there is always something to learn.
    g.reward_exact, g.reward_format, g.reward_length, g.length_target = 1.0, 0.5, 0.5, 10
    c.probes.probe_prompts = "What is 12 + 7? Reply with only 'Answer: ' and the number."
    c.probes.probe_max_new_tokens = 16
    return c


def _qlora_8b() -> RunConfig:
    """The common single-GPU recipe: 4-bit base, r=16 on every linear layer, cosine schedule."""
    c = RunConfig(run_name="qlora-8b")
    c.model.model = "meta-llama/Llama-3.1-8B-Instruct"
    a = c.adapter
    a.adapter, a.lora_r, a.lora_alpha, a.lora_dropout, a.target_modules = "qlora", 16, 32, 0.05, "all-linear"
    c.data.val_fraction = 0.02
    t = c.train
    t.epochs, t.max_steps, t.batch_size, t.grad_accum = 2.0, -1, 2, 8
    t.learning_rate, t.scheduler, t.warmup_ratio, t.weight_decay = 2e-4, "cosine", 0.03, 0.0
    t.optim, t.max_length, t.gradient_checkpointing = "paged_adamw_8bit", 2048, True
    t.logging_steps, t.eval_steps, t.save_steps, t.save_total_limit = 10, 100, 100, 3
    return c


def _full_small() -> RunConfig:
    c = _quick_sft()
    c.run_name = "full-sft-small"
    c.adapter.adapter = "full"
    c.train.learning_rate, c.train.max_steps, c.train.warmup_ratio = 2e-5, 40, 0.1
    c.train.gradient_checkpointing = True
    return c


PRESETS: dict[str, tuple[str, Callable[[], RunConfig]]] = {
    "Quick CPU demo: LoRA SFT": ("The embedded model learns the sample pirate persona in 40 steps.", _quick_sft),
    "Quick CPU demo: LoRA DPO": ("The same persona from preference pairs; the base is the reference.", _quick_dpo),
    "Quick CPU demo: GRPO arithmetic": (
        "The embedded model is rewarded for exact sums in the 'Answer: N' format; held-out sums judge it.",
        _quick_grpo,
    ),
    "Typical 8B QLoRA recipe (GPU)": (
        "Llama-3.1-8B-Instruct in 4-bit, r=16 all-linear, effective batch 16, cosine, 2048 tokens.",
        _qlora_8b,
    ),
    "Full fine-tune of a small model": ("Every weight of the embedded model, low learning rate.", _full_small),
}


# configs/<file> -> the preset it holds.
CONFIG_FILES = {
    "quick_lora_sft.yaml": "Quick CPU demo: LoRA SFT",
    "quick_lora_dpo.yaml": "Quick CPU demo: LoRA DPO",
    "quick_lora_grpo.yaml": "Quick CPU demo: GRPO arithmetic",
    "qlora_8b.yaml": "Typical 8B QLoRA recipe (GPU)",
    "full_sft_small.yaml": "Full fine-tune of a small model",
}


# The preset that starts each method (the method table's ``preset`` column); that preset's dataset is
# the method's shipped example. The UI's method buttons, the review, Start's refusal and the CLI read it.
METHOD_PRESETS = {name: method.preset for name, method in METHODS.items()}


def preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ValueError(f"preset: {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name][1]()


def method_preset(method: str) -> RunConfig:
    """The preset that starts ``method`` (METHOD_PRESETS), with the method set to ``method``."""
    if method not in METHOD_PRESETS:
        raise ValueError(f"method: {method!r} is not one of {', '.join(METHOD_PRESETS)}")
    config = preset(METHOD_PRESETS[method])
    config.train.method = method
    return config


def shipped_example(method: str) -> str:
    """The dataset the studio ships for ``method``: its preset's."""
    return method_preset(method).data.dataset


def shipped_datasets() -> set[str]:
    """Every dataset and validation file a preset names (a form holding one was filled by a preset)."""
    configs = [preset(name) for name in PRESETS]
    return {c.data.dataset for c in configs} | {c.data.val_dataset for c in configs if c.data.val_dataset}


def starter_text(method: str) -> str:
    """'the shipped example X, or the preset P (python -m studio train configs/F)': for refusals."""
    name = METHOD_PRESETS.get(method)
    if name is None:
        return ""
    file_name = next(f for f, n in CONFIG_FILES.items() if n == name)
    flag = "" if preset(name).train.method == method else f" --method {method}"
    return (
        f"the shipped example {shipped_example(method)}, or the preset '{name}' "
        f"(python -m studio train configs/{file_name}{flag})"
    )


def config_text(file_name: str) -> str:
    """The YAML of configs/<file_name>: a header saying what it is and how to run it, then the preset."""
    name = CONFIG_FILES[file_name]
    header = f"# {name}: {PRESETS[name][0]}\n# python -m studio train configs/{file_name}\n"
    header += "# Generated from studio/train/presets.py (python -m studio.train.presets); edit the preset, not this.\n"
    return header + preset(name).to_yaml()


def write_configs(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CONFIG_FILES:
        (folder / name).write_text(config_text(name))
        written.append(folder / name)
    return written


if __name__ == "__main__":
    for path in write_configs(sys.argv[1] if len(sys.argv) > 1 else "configs"):
        print(path)
