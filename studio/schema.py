"""Config fields documented once: help, choices and bounds live in dataclass metadata.

The Train form (``studio/ui/forms.py``), the CLI flags (``studio/cli.py``) and the YAML
files all read the same metadata, so a field is declared in exactly one place::

    @dataclass
    class LoraConfig:
        r: int = option(8, "LoRA rank: width of the low-rank update.", minimum=1)

This module knows nothing of torch or gradio.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    choices: list | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    label: str | None = None,
    default_factory: Any = MISSING,
    step: float | None = None,
) -> Any:
    """A dataclass field carrying its one-line help and its limits."""
    metadata = {
        "help": help,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "label": label,
        "step": step,
    }
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Problem:
    """A check's finding, shown at the field it names."""

    field: str
    message: str
    level: str = "error"  # "error" blocks a start; "warning" informs

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ConfigError(ValueError):
    """Raised with every blocking problem at once, each naming its field and the fix."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _plain(hint) -> tuple[type, bool]:
    """``int | None`` -> (int, True); ``list[str]`` -> (list, False)."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    return typing.get_origin(hint) or hint, optional


def typed_fields(cls_or_obj: Any) -> list[tuple[dataclasses.Field, type, bool]]:
    """Each field of a config dataclass with its plain type and whether it may be None."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    hints = typing.get_type_hints(cls)
    return [(f, *_plain(hints[f.name])) for f in fields(cls)]


def coerce(f: dataclasses.Field, kind: type, optional: bool, value: Any) -> Any:
    """Turn a form, CLI or YAML value into the field's type; raises ValueError naming the field."""
    if value is None or (isinstance(value, str) and value.strip() == "" and optional):
        if optional:
            return None
        if kind is str:
            return ""
        raise ValueError(f"{f.name}: a value is required")
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) else int(value)
        if kind is float:
            return float(value)
        if kind is list:
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return list(value)
        if kind is str:
            return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"{f.name}: {value!r} is not a valid {kind.__name__}") from None
    return value


def bounds_problems(obj: Any, prefix: str = "") -> list[Problem]:
    """Problems for values outside a field's declared choices or bounds."""
    out = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        name = prefix + f.name
        if value is None:
            continue
        choices = meta.get("choices")
        if choices and not isinstance(value, list) and value not in choices:
            out.append(Problem(name, f"{value!r} is not one of {', '.join(map(str, choices))}"))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if meta.get("minimum") is not None and value < meta["minimum"]:
                out.append(Problem(name, f"{value} is below the minimum {meta['minimum']}"))
            if meta.get("maximum") is not None and value > meta["maximum"]:
                out.append(Problem(name, f"{value} is above the maximum {meta['maximum']}"))
    return out


def from_dict(cls: type, data: dict | None) -> Any:
    """Build a (possibly nested) config dataclass from a mapping; unknown keys are an error."""
    data = dict(data or {})
    known = {f.name: (f, kind, optional) for f, kind, optional in typed_fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(known)}")
    kwargs = {}
    for name, value in data.items():
        f, kind, optional = known[name]
        if dataclasses.is_dataclass(kind):
            kwargs[name] = from_dict(kind, value)
        else:
            kwargs[name] = coerce(f, kind, optional, value)
    return cls(**kwargs)


def to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def add_arguments(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """Add one ``--flag`` per field of a config dataclass, its help taken from the metadata."""
    for f, kind, _ in typed_fields(cls):
        if dataclasses.is_dataclass(kind):
            add_arguments(parser, kind, prefix)
            continue
        flag = "--" + (prefix + f.name).replace("_", "-")
        meta = f.metadata
        default = f.default if f.default is not MISSING else f.default_factory()
        text = meta.get("help", "")
        if meta.get("choices"):
            text += f" Choices: {', '.join(map(str, meta['choices']))}."
        text += f" (default: {default})"
        if kind is bool:
            parser.add_argument(
                flag, dest=prefix + f.name, default=None, action=argparse.BooleanOptionalAction, help=text
            )
        else:
            parser.add_argument(flag, dest=prefix + f.name, default=None, metavar=kind.__name__.upper(), help=text)


def apply_overrides(obj: Any, values: dict[str, Any]) -> None:
    """Set fields (searching nested sections) from a flat name->value mapping; None is skipped."""
    for f, kind, optional in typed_fields(obj):
        if dataclasses.is_dataclass(kind):
            apply_overrides(getattr(obj, f.name), values)
        elif values.get(f.name) is not None:
            setattr(obj, f.name, coerce(f, kind, optional, values[f.name]))
