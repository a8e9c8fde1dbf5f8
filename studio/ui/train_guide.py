"""The Train form's guide: presets, and one-click fixes where the method and the data disagree.

Under "Model and method" a card appears when the chosen method cannot train on the dataset (with
buttons for the method's shipped example and its preset) or when the data suits another method
better (with a button that switches the method). The method's own help stays in its info line.
Every fill (a preset, an example, a switch) returns the review of the config it fills, from the
same event, so the plan shown is the plan that runs. What fits what lives in the services
(studio.train.method_data, studio.train.guide, the METHOD_PRESETS table); this module renders it.
"""

from __future__ import annotations

import html
from types import SimpleNamespace

import gradio as gr

from studio.services import guide
from studio.ui.errors import card
from studio.ui.space import user_of

# Problems at these fields show in the guide card, not in the field's info line (which keeps its help).
GUIDED = {"method"}


def build_guide() -> SimpleNamespace:
    """The card and its three buttons, hidden until the review has something to offer."""
    g = SimpleNamespace()
    g.card = gr.HTML(elem_id="train-guide")
    with gr.Row():
        g.use_example = gr.Button("Use the shipped example", visible=False, size="sm", elem_id="guide-example")
        g.use_preset = gr.Button("Use the method's preset", visible=False, size="sm", elem_id="guide-preset")
        g.switch = gr.Button("Switch method", visible=False, size="sm", elem_id="guide-switch")
    return g


def guide_view(review, method: str) -> tuple:
    """Updates of the card and its buttons from a review of the form (studio.train.review.Review)."""
    lines, hidden = [], gr.update(visible=False)
    example = preset = switch = hidden
    refusal = next((p for p in review.errors if p.field in GUIDED), None)
    if refusal is not None:
        lines.append(("#dc2626", refusal.message))
        if method in guide.METHOD_PRESETS:
            example = gr.update(visible=True, value=f"Use the shipped example ({guide.shipped_example(method)})")
            preset = gr.update(visible=True, value=f"Use the preset '{guide.METHOD_PRESETS[method]}'")
    if review.suggestion is not None:
        s = review.suggestion
        lines.append(("#2563eb", f"{s.reason[0].upper()}{s.reason[1:]}. Train them with {s.method.upper()}?"))
        switch = gr.update(visible=True, value=f"Switch Method to {s.method.upper()}")
    text = "".join(f"<div style='color:{color};margin:2px 0'>{html.escape(line)}</div>" for color, line in lines)
    style = "border-left:4px solid #93c5fd;padding:4px 10px"
    return f"<div id='guide-text' style='{style}'>{text}</div>" if text else "", example, preset, switch


class GuideHandlers:
    """Fills of the form: each reads the form, asks one service for the config, and answers with
    the form, a note and the review of that config (see _Handlers.filled in studio.ui.train_tab)."""

    def __init__(self, h):
        self.h = h

    def _read(self, values):
        try:
            return self.h.read_config(*values), None
        except ValueError as exc:
            return None, self.h.unfilled(card(f"Read the form: {exc}"))

    def on_preset(self, name, request: gr.Request, flagged, *values):
        """Fill the form from a preset: its own dataset, unless the form holds the user's own that fits."""
        if not name:
            return self.h.unfilled(card("Preset: pick one in the list first."))
        config, failed = self._read(values)
        if failed:
            return failed
        d, user = config.data, user_of(request)
        filled, note = guide.fill_preset(name, d.dataset, d.format, d.columns, d.system_prompt, user)
        return self.h.filled(filled, flagged, user, card(note, "info") if note else "")

    def on_example(self, request: gr.Request, flagged, *values):
        """The method's shipped example in the form (the guide card goes once the review agrees)."""
        config, failed = self._read(values)
        return failed or self.h.filled(guide.with_example(config), flagged, user_of(request))

    def on_method_preset(self, request: gr.Request, flagged, *values):
        config, failed = self._read(values)
        return failed or self.h.filled(guide.method_preset(config.train.method), flagged, user_of(request))

    def on_switch(self, request: gr.Request, flagged, *values):
        config, failed = self._read(values)
        if failed:
            return failed
        user = user_of(request)
        suggestion = self.h.studio.review(config, user).suggestion
        if suggestion is None:
            return self.h.unfilled(card("Method: the data suits the chosen method; nothing to switch."))
        config.train.method = suggestion.method
        return self.h.filled(config, flagged, user)


def wire_guide(ui, h, preset_inputs: list, filled_outputs: list) -> None:
    """Each fill answers with the form, the note and the review: one event, one consistent plan."""
    g = GuideHandlers(h)
    form_inputs = [ui.flagged, *preset_inputs]
    ui.apply_preset.click(g.on_preset, [ui.preset, *form_inputs], filled_outputs, api_name="apply_preset")
    ui.guide.use_example.click(g.on_example, form_inputs, filled_outputs, api_name="use_example")
    ui.guide.use_preset.click(g.on_method_preset, form_inputs, filled_outputs, api_name="use_method_preset")
    ui.guide.switch.click(g.on_switch, form_inputs, filled_outputs, api_name="switch_method")
