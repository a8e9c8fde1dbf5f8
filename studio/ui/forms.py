"""Form components generated from a config dataclass, and values read back into it.

A field's type and metadata pick its component: bool -> Checkbox, choices -> Dropdown (a list
with choices -> CheckboxGroup), a bounded float with a step -> Slider, other numbers -> Number,
a list of words -> Textbox (one per line or comma), text -> Textbox; its help is the
component's ``info``. An optional number left empty (or 0) reads back as None, "not set".
There is no hand-written table from form to training arguments.
"""

from __future__ import annotations

import dataclasses

import gradio as gr

from studio.config import EMBEDDED_MODEL
from studio.schema import coerce, typed_fields

# Free-text fields that offer suggestions but accept anything.
SUGGESTIONS = {
    "model": [EMBEDDED_MODEL],
    "target_modules": ["all-linear", "attention", "q,v"],
}


def _label(f: dataclasses.Field) -> str:
    return f.metadata.get("label") or f.name.replace("_", " ").capitalize()


def component(f: dataclasses.Field, kind: type, value, optional: bool = False) -> gr.components.Component:
    meta = f.metadata
    label, info = _label(f), meta.get("help") or None
    if kind is bool:
        return gr.Checkbox(value=value, label=label, info=info)
    if kind is list and meta.get("choices"):
        return gr.CheckboxGroup(choices=list(meta["choices"]), value=list(value), label=label, info=info)
    if kind is list:
        return gr.Textbox(value="\n".join(map(str, value)), lines=2, label=label, info=f"{info} One per line or comma.")
    if meta.get("choices"):
        return gr.Dropdown(choices=list(meta["choices"]), value=value, label=label, info=info)
    if f.name in SUGGESTIONS:
        choices = list(dict.fromkeys([value, *SUGGESTIONS[f.name]]))
        return gr.Dropdown(choices=choices, value=value, label=label, info=info, allow_custom_value=True)
    if kind in (int, float):
        lo, hi, step = meta.get("minimum"), meta.get("maximum"), meta.get("step")
        if kind is float and lo is not None and hi is not None and step:
            return gr.Slider(minimum=lo, maximum=hi, step=step, value=value, label=label, info=info)
        if optional:  # empty or 0 means "not set": Gradio must not refuse a 0 below the minimum
            lo = hi = None
        return gr.Number(
            value=value, label=label, info=info, precision=0 if kind is int else None, minimum=lo, maximum=hi
        )
    return gr.Textbox(value="" if value is None else str(value), label=label, info=info)


class Form:
    """The components of one or more config dataclass instances, by field name."""

    def __init__(self):
        self.components: dict[str, gr.components.Component] = {}
        self._fields: dict[str, tuple] = {}

    def add(self, obj, names: list[str] | None = None) -> None:
        """Render the fields of ``obj`` (all, or those named) inside the current layout context."""
        for f, kind, optional in typed_fields(obj):
            if dataclasses.is_dataclass(kind) or (names is not None and f.name not in names):
                continue
            self.components[f.name] = component(f, kind, getattr(obj, f.name), optional)
            self._fields[f.name] = (f, kind, optional)

    @property
    def inputs(self) -> list:
        return list(self.components.values())

    def values(self, args) -> dict:
        """Form values (as passed to a handler, in ``inputs`` order) by field name, typed."""
        out = {}
        for (name, (f, kind, optional)), value in zip(self._fields.items(), args, strict=True):
            if optional and kind in (int, float) and value in (0, None, ""):
                value = None  # an emptied Number arrives as 0 or None: "not set"
            out[name] = coerce(f, kind, optional, value)
        return out

    def updates(self, config) -> list:
        """Component values for every field, read from a (nested) config object."""
        flat = {}

        def walk(obj):
            for f, kind, _ in typed_fields(obj):
                if dataclasses.is_dataclass(kind):
                    walk(getattr(obj, f.name))
                else:
                    flat[f.name] = getattr(obj, f.name)

        walk(config)
        out = []
        for name in self.components:
            value, kind = flat.get(name), self._fields[name][1]
            if kind is list and isinstance(self.components[name], gr.Textbox):
                value = "\n".join(map(str, value or []))
            out.append(gr.update(value="" if value is None and kind is str else value))
        return out
