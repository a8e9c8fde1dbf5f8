"""Config fields documented once: help, choices and bounds live in dataclass metadata.

The Train form (``studio/ui/forms.py``), the CLI flags (``studio/cli/``) and the YAML
files all read the same metadata, so a field is declared in exactly one place::

    @dataclass
    class LoraConfig:
        r: int = option(8, "LoRA rank: width of the low-rank update.", minimum=1)

This module knows nothing of torch or gradio.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
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
    above: float | None = None,
) -> Any:
    """A dataclass field carrying its one-line help and its limits.

    ``minimum``/``maximum`` are inclusive; ``above`` is a strict lower bound (a learning rate
    must be above 0). A number is also always finite: NaN and infinity fail every bound.
    """
    metadata = {
        "help": help,
        "choices": choices,
        "minimum": above if above is not None else minimum,
        "maximum": maximum,
        "exclusive_minimum": above is not None,
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


def list_items(f: dataclasses.Field, value: Any) -> list:
    """A list field's items from text (one per line or comma) or a sequence; for a closed list
    (``choices``) the words may also be comma-joined, and 'none' means no item."""
    closed = bool(f.metadata.get("choices"))
    items = [value] if isinstance(value, str) else list(value)
    if isinstance(value, str) or closed:
        items = [part for item in items for line in str(item).splitlines() for part in line.split(",")]
    items = [item.strip() if isinstance(item, str) else item for item in items]
    return [item for item in items if item != "" and not (closed and str(item).lower() == "none")]


def coerce(f: dataclasses.Field, kind: type, optional: bool, value: Any) -> Any:
    """Turn a form, CLI or YAML value into the field's type; raises ValueError naming the field."""
    if value is None or (isinstance(value, str) and value.strip() == "" and optional):
        if optional:
            return None
        if kind is str:
            return ""
        raise ValueError(f"{f.name}: a value is required")
    if kind in (int, float):
        return _number(f, kind, value)
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
        if kind is list:
            return list_items(f, value)
        if kind is str:
            return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"{f.name}: {value!r} is not a valid {kind.__name__}") from None
    return value


def _number(f: dataclasses.Field, kind: type, value: Any) -> int | float:
    """An int or float field's value; NaN and infinity are refused with the field's range."""
    if kind is int and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)  # exact, however long
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{f.name}: {value!r} is not a valid {kind.__name__}") from None
    if not math.isfinite(number):
        raise ValueError(f"{f.name}: {value!r} is not a finite number; give a value {_range(f.metadata)}")
    if kind is float:
        return number
    if not number.is_integer():
        raise ValueError(f"{f.name}: {value!r} is not a valid int")
    return int(value) if isinstance(value, int) else int(number)  # bool: 0 or 1


def _range(meta: Any) -> str:
    """'between 1 and 1024', 'above 0 and at most 1', 'of at least 0'."""
    low, high, exclusive = meta.get("minimum"), meta.get("maximum"), meta.get("exclusive_minimum")
    low, high = (None if x is None else str(x) if isinstance(x, int) else f"{x:g}" for x in (low, high))
    if low is not None and high is not None and not exclusive:
        return f"between {low} and {high}"
    parts = [] if low is None else [f"above {low}" if exclusive else f"of at least {low}"]
    parts += [] if high is None else [f"at most {high}"]
    return " and ".join(parts) or "that is finite"


def bounds_problems(obj: Any, prefix: str = "") -> list[Problem]:
    """Problems for values outside a field's declared choices or bounds: at most one per field."""
    out = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        message = None if value is None else _bound_message(f.metadata, value)
        if message:
            out.append(Problem(prefix + f.name, message))
    return out


def _bound_message(meta: Any, value: Any) -> str | None:
    choices = meta.get("choices")
    if choices:
        wrong = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
        return f"{wrong[0]!r} is not one of {', '.join(map(str, choices))}" if wrong else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    low, high = meta.get("minimum"), meta.get("maximum")
    if not math.isfinite(value):
        return f"{value} is not a finite number; give a value {_range(meta)}"
    if low is not None and meta.get("exclusive_minimum") and value <= low:
        return f"{value} must be above {low:g}"
    if low is not None and value < low:
        return f"{value} is below the minimum {low}"
    if high is not None and value > high:
        return f"{value} is above the maximum {high}"
    return None


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


def add_arguments(parser: argparse.ArgumentParser, cls: type, prefix: str = "", only: list[str] | None = None) -> None:
    """Add one ``--flag`` per field of a config dataclass (or the fields named in ``only``), its help
    taken from the metadata: a bool gets --x/--no-x, a list takes several words, a number its range."""
    for f, kind, _ in typed_fields(cls):
        if dataclasses.is_dataclass(kind):
            add_arguments(parser, kind, prefix, only)
            continue
        if only is not None and f.name not in only:
            continue
        flag, dest = "--" + (prefix + f.name).replace("_", "-"), prefix + f.name
        if kind is bool:
            action = argparse.BooleanOptionalAction
            parser.add_argument(flag, dest=dest, default=None, action=action, help=flag_help(f, kind))
        elif kind is list:
            metavar = "WORD" if not f.metadata.get("choices") else "|".join(f.metadata["choices"])
            parser.add_argument(flag, dest=dest, default=None, nargs="*", metavar=metavar, help=flag_help(f, kind))
        else:
            parser.add_argument(flag, dest=dest, default=None, metavar=kind.__name__.upper(), help=flag_help(f, kind))


def flag_help(f: dataclasses.Field, kind: type) -> str:
    """A flag's help: the field's, its choices and range, and its default."""
    meta = f.metadata
    default = f.default if f.default is not MISSING else f.default_factory()
    text = meta.get("help", "")
    if meta.get("choices"):
        several = " (several, space- or comma-separated; 'none' for none)" if kind is list else ""
        text += f" Choices{several}: {', '.join(map(str, meta['choices']))}."
    elif kind in (int, float) and (meta.get("minimum") is not None or meta.get("maximum") is not None):
        text += f" A value {_range(meta)}."
    if isinstance(default, list):
        default = ",".join(map(str, default)) or "none"
    return text + f" (default: {'none' if default is None else default})"


def apply_overrides(obj: Any, values: dict[str, Any]) -> None:
    """Set fields (searching nested sections) from a flat name->value mapping; None is skipped."""
    for f, kind, optional in typed_fields(obj):
        if dataclasses.is_dataclass(kind):
            apply_overrides(getattr(obj, f.name), values)
        elif values.get(f.name) is not None:
            setattr(obj, f.name, coerce(f, kind, optional, values[f.name]))
