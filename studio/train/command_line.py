"""The headless commands that reproduce a run: the plain one and its ``accelerate launch`` forms.

commands(config)["flags"]   # python -m studio train --model ... (only what differs from defaults)
commands(config)["yaml"]    # python -m studio train run.yaml (with the form saved as run.yaml)
"""

from __future__ import annotations

import dataclasses
import shlex

from studio.config import RunConfig
from studio.schema import typed_fields


def changed_flags(config: RunConfig) -> list[str]:
    """``--flag value`` for every field that differs from its default, in config order."""
    defaults = RunConfig()
    out: list[str] = []

    def walk(obj, base):
        for f, kind, _ in typed_fields(obj):
            value, default = getattr(obj, f.name), getattr(base, f.name)
            if dataclasses.is_dataclass(kind):
                walk(value, default)
                continue
            if value == default:
                continue
            flag = "--" + f.name.replace("_", "-")
            if kind is bool:
                out.append(flag if value else f"--no-{f.name.replace('_', '-')}")
            else:
                out.extend([flag, shlex.quote("" if value is None else str(value))])

    walk(config, defaults)
    return out


def commands(config: RunConfig, config_name: str = "run.yaml") -> dict[str, str]:
    flags = " ".join(changed_flags(config))
    return {
        "yaml": f"python -m studio train {config_name}",
        "flags": f"python -m studio train {flags}".rstrip(),
        "accelerate": f"accelerate launch --num_processes 2 -m studio train {config_name}",
        "accelerate_config": f"python -m studio train {config_name} --on accelerate --strategy fsdp --num-processes 2",
    }


def command_text(config: RunConfig, config_name: str = "run.yaml") -> str:
    c = commands(config, config_name)
    return (
        f"# this run, headless, every changed field as a flag\n{c['flags']}\n"
        f"# or with the form saved as {config_name} (Save config as YAML)\n{c['yaml']}\n"
        "# several GPUs, one process each (DDP); set --num_processes to the GPU count\n"
        f"{c['accelerate']}\n"
        "# FSDP or DeepSpeed (zero2, zero3): the studio writes the accelerate config into the run\n"
        f"{c['accelerate_config']}"
    )
