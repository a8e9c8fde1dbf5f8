"""One table per fact (issue 30): methods, formats, GGUF types and dtypes each live in one table
(studio/config/), and every reader looks them up.

A second list of a table's names anywhere else in the studio fails here (read from the source);
each method of the table is checked, planned on its shipped example, estimated and built into its
TRL trainer on the tiny model; and the choices the form and the CLI offer are the tables' names.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import transformers

from studio.config import (
    DTYPES,
    FORMAT_CHOICES,
    FORMATS,
    GGUF_CHOICES,
    GGUF_TYPES,
    METHOD_NAMES,
    METHODS,
    DataConfig,
    ExportConfig,
    RunConfig,
)
from studio.config.method_table import method_help

STUDIO = Path(__file__).resolve().parents[1] / "studio"
TABLES = {"method": set(METHODS), "format": set(FORMATS), "GGUF type": set(GGUF_TYPES), "dtype": set(DTYPES)}
HOME = STUDIO / "config"  # where the tables live, and may name each other's rows


def copies(source: str, tables: dict[str, set[str]], least: int = 3) -> list[str]:
    """'line: what' for each list, tuple, set or dict of ``source`` keyed by ``least`` or more names of a table."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        words = {e.value for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        if len(words) >= least:
            found += [f"{node.lineno}: {what} names" for what, names in tables.items() if len(words & names) >= least]
    return found


def test_no_table_is_copied_outside_studio_config():
    bad = [
        f"{path.relative_to(STUDIO)}:{found}"
        for path in sorted(STUDIO.rglob("*.py"))
        if HOME not in path.parents
        for found in copies(path.read_text(), TABLES)
    ]
    assert not bad, "read the table in studio/config/ instead:\n" + "\n".join(bad)


def test_the_copy_finder_sees_a_copy():
    assert copies('PRESETS = {"sft": 1, "dpo": 2, "kto": 3}', TABLES) == ["1: method names"]
    assert copies('for m in ("sft", "dpo"): pass', TABLES) == []
    assert copies('x = 1\ny = ["f16", "q8_0", "q4_0"]', TABLES) == ["2: GGUF type names"]


def choices(cls) -> dict:
    return {f.name: f.metadata.get("choices") for f in dataclasses.fields(cls)}


def test_the_choices_are_the_tables():
    from studio.data import formats
    from studio.export import gguf_check
    from studio.models import gguf_writer
    from studio.models.device import TORCH_DTYPES

    assert formats.FORMATS is FORMATS and choices(DataConfig)["format"] == FORMAT_CHOICES == ["auto", *FORMATS]
    assert choices(ExportConfig)["gguf"] == GGUF_CHOICES == ["none", *GGUF_TYPES]
    assert gguf_writer.GGUF_TYPES is GGUF_TYPES and set(gguf_check.TOLERANCES) == set(GGUF_TYPES)
    assert choices(ExportConfig)["dtype"] == list(DTYPES) == list(TORCH_DTYPES)
    assert {name: t.itemsize for name, t in TORCH_DTYPES.items()} == {n: d.bytes for n, d in DTYPES.items()}
    method = next(f for f in dataclasses.fields(RunConfig().train) if f.name == "method")
    assert method.metadata["choices"] == METHOD_NAMES == list(METHODS)
    assert method.metadata["help"] == method_help() and all(f"{name}:" in method_help() for name in METHODS)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_each_row_speaks_the_vocabulary_its_readers_know(name):
    from studio.train.trainer import MODULES

    row = METHODS[name]
    assert set(row.formats) <= set(FORMATS) and row.formats
    assert row.rows in ("sequence", "pair", "labelled", "prompt")
    assert row.reference in ("always", "kl", "none") and row.sequences >= 0
    assert set(row.measures) <= {"perplexity", "answers", "preference", "implicit_reward", "kto_gap", "rewards"} | {
        "score_accuracy"
    }
    module = MODULES[name]
    assert callable(module.build) and issubclass(getattr(module, row.trainer), transformers.Trainer)


def preset_on(model_dir, name: str) -> RunConfig:
    from studio.train.presets import method_preset

    config = method_preset(name)
    config.model.model, config.model.precision = str(model_dir), "fp32"
    config.train.max_length, config.train.max_steps, config.data.max_rows = 128, 1, 8
    config.data.dataset = str(STUDIO.parent / config.data.dataset)
    config.data.val_dataset = ""
    return config


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_each_method_is_checked_planned_estimated_and_built_from_its_row(name, tiny_model_dir, tmp_path):
    """The shipped example of each method goes through the checks, its preflight (the row's
    ``rows``), the estimate (``sequences``, ``head``, ``reference``) and its TRL trainer."""
    from studio.train.checks import validate
    from studio.train.estimate import estimate
    from studio.train.plan import plan_run
    from studio.train.trainer import MODULES, build_trainer

    row = METHODS[name]
    config = preset_on(tiny_model_dir, name)
    assert not [p for p in validate(config) if p.level == "error"]
    for adapter in ("lora", "qlora", "full"):  # the row's fine-tuning types pass; another is refused
        config.adapter.adapter = adapter
        refused = [p.field for p in validate(config) if p.level == "error"] == ["adapter"]
        assert refused == (adapter not in row.adapters)
    config.adapter.adapter, config.train.batch_size = "lora", max(1, row.min_batch - 1)
    assert ("batch_size" in [p.field for p in validate(config)]) == (row.min_batch > 1)
    config.train.batch_size = 4
    plan = plan_run(config)
    first = plan.train.examples[0]
    shape = {"pair": "chosen", "labelled": "label", "prompt": "prompt", "sequence": "input_ids"}[row.rows]
    assert shape in first, first
    config.adapter.adapter = "full"
    config.grpo.kl_beta = 0.05
    parts = estimate(config).memory_bytes
    assert ("reference" in parts) == (row.reference != "none")
    trainer = build_trainer(plan, str(tmp_path / "run" / "checkpoints"))
    assert isinstance(trainer, getattr(MODULES[name], row.trainer))


def test_the_bench_counts_a_reference_where_the_table_keeps_one():
    from studio.bench.ceiling import flops_per_token

    ceiling = {"matmul_params": 1000, "head_params": 100}
    lora = flops_per_token(ceiling, "sft")
    assert flops_per_token(ceiling, "dpo") == 1.5 * lora and flops_per_token(ceiling, "orpo") == lora
    assert flops_per_token(ceiling, "grpo") == lora and flops_per_token(ceiling, "grpo", kl_beta=0.05) == 1.5 * lora
    assert flops_per_token(ceiling, "reward") == lora * 900 / 1000  # a score head, not the vocabulary


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_a_refusal_names_what_the_row_needs_and_its_preset(name):
    from studio.train.method_data import method_data_problem

    row = METHODS[name]
    other = next(f for f in FORMATS if f not in row.formats and FORMATS[f].kind != "text")
    problem = method_data_problem(name, FORMATS[other].kind, other)
    assert problem.field == "method" and f"{row.title} needs {row.needs}" in problem.message
    assert row.preset in problem.message
    assert method_data_problem(name, FORMATS[row.formats[0]].kind, row.formats[0]) is None


def test_the_ui_s_defaults_are_the_config_s():
    """The Data tab's dataset and max length, and batch compare's prompt count, start where the
    config and the evaluation options do (a literal copied into a tab drifts when they change)."""
    import gradio as gr

    from studio.evaluate.pipeline import EvalOptions, held_out_prompts
    from studio.ui import data_tab, evaluate_tab

    assert data_tab.DEFAULT_DATASET == DataConfig().dataset
    assert evaluate_tab.PROMPTS == EvalOptions().generate_rows
    assert held_out_prompts.__defaults__[0] == EvalOptions().generate_rows
    with gr.Blocks():
        form = data_tab._inputs()
    assert form["max_length"].value == RunConfig().train.max_length and form["source"].value == DataConfig().dataset
