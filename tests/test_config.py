"""The config is documented once and read the same way by YAML, CLI and form."""

import argparse
import dataclasses
import importlib
import pkgutil

import pytest

import studio
from studio.config import RunConfig
from studio.schema import ConfigError, add_arguments, apply_overrides, typed_fields

from .conftest import ROOT


def all_fields(cls):
    for f, kind, _ in typed_fields(cls):
        if dataclasses.is_dataclass(kind):
            yield from all_fields(kind)
        else:
            yield f


def options_dataclasses() -> list[type]:
    """Every dataclass in studio whose fields are declared with ``option`` (help in the metadata),
    found by importing every module: a new options dataclass is checked without being listed."""
    found = {}
    for info in pkgutil.walk_packages(studio.__path__, "studio."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and dataclasses.is_dataclass(obj)
                and obj.__module__ == module.__name__
                and any("help" in f.metadata for f in dataclasses.fields(obj))
            ):
                found[obj.__qualname__] = obj
    return list(found.values())


def test_every_options_dataclass_is_found_and_every_field_has_help():
    classes = options_dataclasses()
    names = {cls.__name__ for cls in classes}
    assert {"RunConfig", "TrainConfig", "Sampling", "EvalOptions", "CleanOptions", "ExportConfig"} <= names
    missing = [
        f"{cls.__name__}.{f.name}"
        for cls in classes
        for f, kind, _ in typed_fields(cls)
        if not dataclasses.is_dataclass(kind) and f.name != "run_name" and len(f.metadata.get("help", "")) < 10
    ]
    assert missing == []


def test_every_number_is_bounded_below_and_above():
    unbounded = [
        f"{cls.__name__}.{f.name}"
        for cls in options_dataclasses()
        for f, kind, _ in typed_fields(cls)
        if kind in (int, float) and (f.metadata.get("minimum") is None or f.metadata.get("maximum") is None)
    ]
    assert unbounded == []


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


# -- non-finite numbers and bounds ----------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value, field",
    [
        ("--learning-rate", "nan", "learning_rate"),
        ("--learning-rate", "inf", "learning_rate"),
        ("--learning-rate", "-inf", "learning_rate"),
        ("--weight-decay", "nan", "weight_decay"),
        ("--lora-dropout", "nan", "lora_dropout"),
        ("--max-grad-norm", "nan", "max_grad_norm"),
        ("--epochs", "inf", "epochs"),
        ("--batch-size", "inf", "batch_size"),
        ("--dpo-label-smoothing", "NaN", "dpo_label_smoothing"),
    ],
)
def test_nan_and_inf_flags_are_refused_naming_the_field(flag, value, field, tmp_path, capsys):
    from studio.cli import main

    assert main(["train", f"{flag}={value}", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {field}: " in err and "not a finite number" in err
    assert not (tmp_path / "runs").exists() and not any(tmp_path.iterdir())  # nothing started


def test_nan_in_yaml_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  learning_rate: .nan\n")
    with pytest.raises(ValueError, match=r"learning_rate: .*not a finite number; give a value above 0 and at most 1"):
        RunConfig.load(path)
    path.write_text("adapter:\n  lora_dropout: .inf\n")
    with pytest.raises(ValueError, match=r"lora_dropout: .*not a finite number; give a value between 0 and 0.9"):
        RunConfig.load(path)


@pytest.mark.parametrize("section, name", [("train", "learning_rate"), ("train", "epochs"), ("adapter", "lora_r")])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_value_set_in_code_fails_its_bound_once(section, name, value):
    from studio.train.checks import validate

    config = RunConfig()
    setattr(getattr(config, section), name, value)
    errors = [p for p in validate(config) if p.level == "error" and p.field == name]
    assert len(errors) == 1 and "not a finite number" in errors[0].message


def test_every_number_has_an_upper_bound_that_is_enforced():
    from studio.train.checks import validate

    config = RunConfig()
    config.train.batch_size, config.train.grad_accum, config.train.max_length = 100_000, 5000, 10**7
    config.train.epochs, config.train.max_steps, config.adapter.lora_r = 10**6, 10**9, 5000
    fields = {p.field: p.message for p in validate(config) if p.level == "error"}
    assert fields["batch_size"] == "100000 is above the maximum 1024"
    assert {"grad_accum", "max_length", "epochs", "max_steps", "lora_r"} <= set(fields)


def test_one_error_per_field():
    from studio.train.checks import validate

    config = RunConfig()
    config.adapter.lora_alpha = 0
    config.train.learning_rate = 0.0
    config.train.method, config.dpo.beta = "dpo", -1.0
    errors = [p.field for p in validate(config) if p.level == "error"]
    assert errors.count("lora_alpha") == errors.count("learning_rate") == errors.count("beta") == 1
    assert {"lora_alpha", "learning_rate", "beta"} <= set(errors)


@pytest.mark.parametrize(
    "loss, value, ok",
    [
        ("exo_pair", 1e-3, True),
        ("exo_pair", 0.9, True),  # the field's bound (1.0) no longer contradicts exo_pair's range
        ("exo_pair", 0.0, False),
        ("exo_pair", 1.0, False),
        ("robust", 0.0, True),
        ("robust", 0.3, True),
        ("robust", 0.6, False),
        ("sigmoid", 1.5, False),  # above the field's own bound
    ],
)
def test_dpo_label_smoothing_bound_agrees_with_the_losses(loss, value, ok):
    from studio.train.checks import validate

    config = RunConfig()
    config.train.method, config.dpo.dpo_loss, config.dpo.dpo_label_smoothing = "dpo", loss, value
    errors = [p for p in validate(config) if p.level == "error" and p.field == "dpo_label_smoothing"]
    assert len(errors) == (0 if ok else 1), errors


# -- one table each ------------------------------------------------------------------------------


def test_one_optimizer_table_feeds_choices_checks_and_the_estimate():
    from studio.config import OPTIMIZERS, TrainConfig
    from studio.train import estimate
    from studio.train.checks import optimizer_choices, validate

    field = {f.name: f for f, _, _ in typed_fields(TrainConfig)}["optim"]
    assert field.metadata["choices"] == list(OPTIMIZERS)
    assert optimizer_choices("cuda") == list(OPTIMIZERS)
    assert optimizer_choices("cpu") == ["adamw_torch", "adamw_torch_fused", "adamw_8bit", "sgd", "adafactor"]
    assert optimizer_choices("mps") == ["adamw_torch", "sgd", "adafactor"]
    for name in OPTIMIZERS:
        config = RunConfig()
        config.train.optim = name
        for kind in ("cuda", "cpu", "mps"):
            refused = any(p.field == "optim" for p in validate(config, kind))
            assert refused == (kind not in OPTIMIZERS[name].devices), (name, kind)
    assert estimate._optimizer_bytes("adamw_torch", 1000, 4) == 8000
    assert estimate._optimizer_bytes("adamw_8bit", 1000, 4) in (2029, 2030)  # absolute: 2.03 bytes a value
    assert estimate._optimizer_bytes("sgd", 1000, 4) == 0


def test_one_dtype_map():
    import torch

    from studio.config import DTYPES, ExportConfig, ModelConfig
    from studio.models.device import TORCH_DTYPES
    from studio.train.estimate import BYTES

    assert list(TORCH_DTYPES) == list(BYTES) == list(DTYPES) == ["fp32", "bf16", "fp16"]
    assert {k: v.itemsize for k, v in TORCH_DTYPES.items()} == BYTES
    assert TORCH_DTYPES["bf16"] is torch.bfloat16
    choices = {f.name: f.metadata["choices"] for cls in (ModelConfig, ExportConfig) for f, _, _ in typed_fields(cls)}
    assert choices["precision"] == ["auto", *DTYPES] and choices["dtype"] == list(DTYPES)


def test_the_config_files_are_the_presets():
    from studio.train.presets import CONFIG_FILES, PRESETS, config_text, preset

    files = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
    assert files == sorted(CONFIG_FILES), "every configs/*.yaml comes from a preset (python -m studio.train.presets)"
    assert set(CONFIG_FILES.values()) == set(PRESETS)
    for name, preset_name in CONFIG_FILES.items():
        assert (ROOT / "configs" / name).read_text() == config_text(name), f"{name} is stale: regenerate it"
        assert RunConfig.load(ROOT / "configs" / name) == preset(preset_name)


# -- flags from the dataclasses -----------------------------------------------------------------


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def test_estimate_takes_the_train_flags():
    from studio.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    train, estimate = _flags(sub["train"]), _flags(sub["estimate"])
    assert train - {"--resume", "--into", "--runs-dir", "--quiet"} <= estimate
    assert estimate - train == {"--config", "--free-gib", "--device", "--measure", "--steps", "--json"}


def test_estimate_flags_build_the_same_config_as_train():
    from studio.cli import build_parser
    from studio.cli.estimate_cmd import config_from_args

    flags = ["--adapter", "qlora", "--lora-r", "4", "--target-modules", "q,v", "--method", "dpo", "--batch-size", "2"]
    args = build_parser().parse_args(["estimate", *flags])
    config = config_from_args(args)
    trained = RunConfig()
    apply_overrides(trained, vars(build_parser().parse_args(["train", *flags])))
    assert (config.adapter, config.train) == (trained.adapter, trained.train)
    with pytest.raises(ConfigError, match="--adapter qlora"):  # the older spelling is explained
        config_from_args(build_parser().parse_args(["estimate", "--method", "qlora"]))
    with pytest.raises(ConfigError, match="batch_size: 0 is below the minimum 1"):
        config_from_args(build_parser().parse_args(["estimate", "--batch-size", "0"]))


def test_export_and_push_flags_are_the_export_config():
    from studio.cli import build_parser
    from studio.cli.export_cmd import options
    from studio.config import ExportConfig

    parse = build_parser().parse_args
    assert options(parse(["push", "--run", "r", "--repo", "x"])) == ExportConfig()
    pushed = options(parse(["push", "--run", "r", "--repo", "x", "--no-private", "--merged", "--no-verify"]))
    assert pushed == ExportConfig(private=False, merged=True, verify=False)
    exported = options(parse(["export", "--run", "r", "--out", "o", "--merge", "--dtype", "fp16"]))
    assert (exported.merged, exported.dtype) == (True, "fp16")
    with pytest.raises(ConfigError, match="dtype: 'int8' is not one of fp32, bf16, fp16"):
        options(parse(["export", "--run", "r", "--out", "o", "--dtype", "int8"]))


def test_list_and_optional_fields_get_flags():
    from studio.cli import build_parser
    from studio.cli.data_cmd import _options
    from studio.data.clean import CleanOptions

    def parse(*flags):
        return _options(build_parser().parse_args(["data", "clean", "d.jsonl", "--out", "o.jsonl", *flags]))

    assert parse() == CleanOptions()
    assert parse("--dedup", "exact,near").dedup == parse("--dedup", "exact", "near").dedup == ["exact", "near"]
    assert parse("--dedup", "none").dedup == []
    got = parse("--exclude", "As an AI", "I cannot, sorry", "--max-tokens", "5", "--min-chars", "3")
    assert (got.exclude, got.max_tokens, got.min_chars, got.min_tokens) == (["As an AI", "I cannot, sorry"], 5, 3, None)
    with pytest.raises(ConfigError, match="dedup: 'fuzzy' is not one of exact, near"):
        parse("--dedup", "exact,fuzzy")
    with pytest.raises(ValueError, match="near_threshold: 'nan' is not a finite number"):
        parse("--near-threshold", "nan")


def test_the_embedded_model_is_named_once():
    """Code says EMBEDDED_MODEL; the literal lives in studio/config/sections.py alone (docstrings may show it)."""
    import ast

    from studio.config import EMBEDDED_MODEL

    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "studio").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value == EMBEDDED_MODEL
    ]
    assert found == ["studio/config/sections.py:" + found[0].split(":")[1]], found
