"""The config is documented once and read the same way by YAML, CLI and form."""

import argparse
import dataclasses

import pytest

from studio.chat.engine import Sampling
from studio.config import RunConfig
from studio.schema import ConfigError, add_arguments, apply_overrides, typed_fields

from .conftest import ROOT


def all_fields(cls):
    for f, kind, _ in typed_fields(cls):
        if dataclasses.is_dataclass(kind):
            yield from all_fields(kind)
        else:
            yield f


@pytest.mark.parametrize("cls", [RunConfig, Sampling])
def test_every_field_has_help(cls):
    missing = [f.name for f in all_fields(cls) if len(f.metadata.get("help", "")) < 10 and f.name != "run_name"]
    assert missing == []


def test_field_names_are_unique_across_sections():
    names = [f.name for f in all_fields(RunConfig)]
    assert len(names) == len(set(names))


def test_yaml_round_trip(tmp_path):
    config = RunConfig()
    config.adapter.lora_r = 32
    config.train.learning_rate = 1e-5
    config.data.max_rows = 7
    path = config.save(tmp_path / "run.yaml")
    loaded = RunConfig.load(path)
    assert loaded == config
    assert loaded.data.max_rows == 7


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  learning_rat: 0.1\n")
    with pytest.raises(ValueError, match="learning_rat"):
        RunConfig.load(path)


def test_wrong_type_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  batch_size: many\n")
    with pytest.raises(ValueError, match="batch_size"):
        RunConfig.load(path)


def test_cli_flags_override_the_file():
    parser = argparse.ArgumentParser()
    add_arguments(parser, RunConfig)
    args = parser.parse_args(["--lora-r", "4", "--learning-rate", "3e-4", "--no-padding-free", "--method", "dpo"])
    config = RunConfig()
    apply_overrides(config, vars(args))
    assert (config.adapter.lora_r, config.train.learning_rate, config.train.padding_free, config.train.method) == (
        4,
        3e-4,
        False,
        "dpo",
    )
    assert config.train.batch_size == RunConfig().train.batch_size  # untouched fields keep the file's value


def test_example_config_loads():
    config = RunConfig.load(ROOT / "configs" / "quick_lora_sft.yaml")
    assert config.model.model == "smollm2-135m-instruct"
    assert config.train.method == "sft" and config.adapter.adapter == "lora"


def test_validation_names_fields():
    from studio.train.checks import validate

    config = RunConfig()
    config.adapter.lora_r = 0
    config.train.learning_rate = -1
    config.train.batch_size = 0
    config.train.eval_steps = 10
    fields = {p.field for p in validate(config) if p.level == "error"}
    assert {"lora_r", "learning_rate", "batch_size", "eval_steps"} <= fields
    error = ConfigError([p for p in validate(config) if p.level == "error"])
    assert "lora_r" in str(error)


def test_presets_fill_a_valid_config():
    from studio.train.checks import validate
    from studio.train.presets import PRESETS, preset

    for name in PRESETS:
        config = preset(name)
        device = "cuda" if "GPU" in name else "cpu"
        assert [p for p in validate(config, device) if p.level == "error"] == [], name
    recipe = preset("Typical 8B QLoRA recipe (GPU)")
    assert (recipe.adapter.adapter, recipe.adapter.lora_r, recipe.adapter.lora_alpha) == ("qlora", 16, 32)
    assert recipe.train.gradient_checkpointing and recipe.train.batch_size * recipe.train.grad_accum == 16
    # its paged optimizer is refused on a CPU, at the field, with the reason
    assert any(p.field == "optim" and "CUDA" in p.message for p in validate(recipe, "cpu"))


def test_the_headless_command_reproduces_the_form():
    import shlex

    from studio.cli import build_parser
    from studio.train.command_line import changed_flags, commands

    config = RunConfig()
    config.adapter.lora_r = 32
    config.train.learning_rate = 1e-5
    config.train.padding_free = False
    config.probes.probe_prompts = "Who are you?\nSay hi, please"
    config.data.max_rows = 7
    config.run_name = "my run"
    args = build_parser().parse_args(["train", *shlex.split(" ".join(changed_flags(config)))])
    rebuilt = RunConfig()
    apply_overrides(rebuilt, vars(args))
    assert rebuilt == config
    c = commands(config)
    assert c["flags"].startswith("python -m studio train --lora-r 32")
    assert c["accelerate"].startswith("accelerate launch") and "-m studio train run.yaml" in c["accelerate"]
