"""The run configuration: one dataclass per concern, each field documented once.

A run is described by a YAML file with one mapping per section::

    python -m studio train configs/quick_lora_sft.yaml

The Train tab builds its form from these dataclasses and saves the same YAML; the CLI
generates one flag per field (``--learning-rate 1e-4`` overrides ``train.learning_rate``).
Field names are unique across sections so flags stay flat.

Inside: ``sections`` (model, adapter, data, train, probes, export), ``method_options`` (the DPO, KTO
and GRPO sections), ``launch_section`` (where to run: LaunchConfig, read by studio.launch and by
training's validation), and one table per fact that the fields choose from and every reader looks up:
``method_table`` (what each training method needs) and ``choices`` (dtypes, GGUF types, data formats,
optimizers, DPO losses, target presets, trackers, chat templates). Import from ``studio.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from studio.config.choices import (
    DPO_LOSSES,
    DTYPES,
    FORMAT_CHOICES,
    FORMATS,
    GGUF_CHOICES,
    GGUF_TYPES,
    OPTIMIZERS,
    PRECISIONS,
    TARGET_PRESETS,
    TEMPLATE_CHOICES,
    TRACKERS,
    Dtype,
    Format,
    GGUFType,
    Optimizer,
)
from studio.config.launch_section import LaunchConfig
from studio.config.method_options import DPOConfig, GRPOConfig, KTOConfig
from studio.config.method_table import METHOD_NAMES, METHODS, Method
from studio.config.sections import (
    EMBEDDED_MODEL,
    AdapterConfig,
    DataConfig,
    ExportConfig,
    ModelConfig,
    ProbeConfig,
    TrainConfig,
)
from studio.schema import from_dict, option, to_dict

__all__ = [
    "DPO_LOSSES",
    "DTYPES",
    "EMBEDDED_MODEL",
    "FORMAT_CHOICES",
    "FORMATS",
    "GGUF_CHOICES",
    "GGUF_TYPES",
    "METHODS",
    "METHOD_NAMES",
    "OPTIMIZERS",
    "PRECISIONS",
    "TARGET_PRESETS",
    "TEMPLATE_CHOICES",
    "TRACKERS",
    "AdapterConfig",
    "DPOConfig",
    "DataConfig",
    "Dtype",
    "Format",
    "ExportConfig",
    "GGUFType",
    "GRPOConfig",
    "KTOConfig",
    "Method",
    "ModelConfig",
    "Optimizer",
    "ProbeConfig",
    "RunConfig",
    "TrainConfig",
]


@dataclass
class RunConfig:
    """Everything needed to reproduce a run; written first into the run directory as config.yaml."""

    model: ModelConfig = option(default_factory=ModelConfig)
    adapter: AdapterConfig = option(default_factory=AdapterConfig)
    data: DataConfig = option(default_factory=DataConfig)
    train: TrainConfig = option(default_factory=TrainConfig)
    dpo: DPOConfig = option(default_factory=DPOConfig)
    kto: KTOConfig = option(default_factory=KTOConfig)
    grpo: GRPOConfig = option(default_factory=GRPOConfig)
    probes: ProbeConfig = option(default_factory=ProbeConfig)
    launch: LaunchConfig = option(default_factory=LaunchConfig)  # where it trains (studio.launch)
    run_name: str = option("", "A name for the run directory (empty: date, method and model).")

    @classmethod
    def sections(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "run_name"]

    def to_dict(self) -> dict:
        return to_dict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_yaml())
        return path

    @classmethod
    def from_dict(cls, data: dict | None) -> RunConfig:
        launch = (data or {}).get("launch")
        if isinstance(launch, dict) and True in launch:  # YAML 1.1 reads a bare `on:` key as true
            launch["on"] = launch.pop(True)
        return from_dict(cls, data)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping with sections {', '.join(cls.sections())}")
        return cls.from_dict(data)
