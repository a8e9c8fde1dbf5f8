"""Train tab: the run form (generated from RunConfig), a live review, Start/Stop, live monitoring.

The form's fields come from the config dataclasses, laid out in short rows by topic. As the
user types, the review panel shows every problem at its field, the effective batch and step
count, the memory estimate with its traffic light, and the exact headless command. The job lives
on the server; a ``gr.Timer`` polls its snapshot while it runs and switches itself off when it
ends. Loading the page (or selecting the tab) re-attaches to a running job with its whole curve.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from studio.config import RunConfig
from studio.schema import ConfigError, Problem, apply_overrides, typed_fields
from studio.services import (
    PRESETS,
    Studio,
    command_text,
    is_dpo,
    optimizer_choices,
    preset,
    probe_table,
    training_figure,
)
from studio.ui.forms import Form
from studio.ui.train_views import review_html, status_html

# The order of the form's values in the named endpoints (start_training, review_config, ...).
SECTIONS = [
    ("Model", "model", None),
    ("Data", "data", None),
    ("Method and adapter", "adapter", None),
    ("Training", "train", None),
    ("DPO", "dpo", None),
    ("Probes", "probes", None),
]
# How the form is laid out: groups of rows, each row a few fields side by side.
LAYOUT = [
    ("Model and method", True, [["model", "precision", "method", "adapter"]]),
    (
        "LoRA adapter",
        True,
        [["lora_r", "lora_alpha", "lora_dropout"], ["target_modules", "use_rslora", "use_dora", "compute_dtype"]],
    ),
    ("Data", True, [["dataset", "format", "columns"], ["system_prompt", "val_fraction", "max_rows"], ["val_dataset"]]),
    (
        "Optimisation",
        True,
        [
            ["epochs", "max_steps", "batch_size", "grad_accum"],
            ["learning_rate", "scheduler", "warmup_ratio", "weight_decay"],
            ["max_grad_norm", "optim", "seed"],
        ],
    ),
    (
        "Sequences and memory",
        True,
        [["max_length", "packing", "padding_free", "assistant_only_loss", "gradient_checkpointing"]],
    ),
    (
        "Evaluation, checkpoints, early stopping",
        False,
        [["logging_steps", "eval_steps", "save_steps", "save_total_limit", "early_stopping_patience"]],
    ),
    ("DPO", False, [["beta", "dpo_loss", "dpo_label_smoothing"]]),
    ("Probe prompts", False, [["probe_prompts", "probe_max_new_tokens"]]),
]


def field_order() -> list[str]:
    defaults = RunConfig()
    names = [f.name for _, section, _ in SECTIONS for f, _, _ in typed_fields(getattr(defaults, section))]
    return names + ["run_name"]


def _owner(defaults: RunConfig) -> dict[str, object]:
    """Field name -> the section object holding it."""
    out = {"run_name": defaults}
    for _, section, _ in SECTIONS:
        for f, _, _ in typed_fields(getattr(defaults, section)):
            out[f.name] = getattr(defaults, section)
    return out


def _layout_form(form: Form, defaults: RunConfig) -> dict:
    owner = _owner(defaults)
    extra = {}
    for title, is_open, rows in LAYOUT:
        with gr.Accordion(title, open=is_open):
            for row in rows:
                with gr.Row():
                    for name in row:
                        form.add(owner[name], [name])
                    if name == "lora_dropout":
                        extra["alpha2r"] = gr.Button("alpha = 2r", size="sm", scale=0, min_width=90)
            if title == "Optimisation":
                extra["batch"] = gr.Markdown(elem_id="train-batch")
    missing = set(field_order()) - set(form.components) - {"run_name"}
    assert not missing, f"fields missing from the Train layout: {missing}"
    return extra


def _set_props(component, **props) -> None:
    """Change a built component's props for good: Gradio rebuilds a session's copy of a component
    from its constructor arguments whenever an event updates it, so those change too."""
    for key, value in props.items():
        setattr(component, key, value)
    for kwargs in getattr(component, "_constructor_args", []):
        kwargs.update(props)


def _tune_components(form: Form, device_kind: str) -> None:
    """What the generated components cannot know: the hardware's optimizers, a multi-line probe box.

    Number bounds are left to the review: Gradio would refuse the whole event with a message
    that names no field, while the review names the field, at the field and in the panel.
    """
    for component in form.components.values():
        if isinstance(component, gr.Number):
            _set_props(component, minimum=None, maximum=None)
    _set_props(form.components["optim"], choices=[(c, c) for c in optimizer_choices(device_kind)])
    _set_props(form.components["probe_prompts"], lines=3, max_lines=10, placeholder="Who are you?\nWhat is 2 + 2?")


def _layout(studio: Studio, form: Form, defaults: RunConfig) -> SimpleNamespace:
    ui = SimpleNamespace()
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                ui.preset = gr.Dropdown(
                    list(PRESETS), value=None, label="Preset", info="Fills the whole form.", scale=3
                )
                ui.apply_preset = gr.Button("Fill the form", scale=1)
                form.add(defaults, ["run_name"])
            extra = _layout_form(form, defaults)
            ui.alpha2r, ui.batch = extra["alpha2r"], extra["batch"]
        with gr.Column(scale=2):
            with gr.Row():
                ui.start = gr.Button("Start training", variant="primary")
                ui.stop = gr.Button("Stop", variant="stop")
            ui.status = gr.HTML(status_html(studio.progress()))
            ui.review = gr.HTML("<div id='train-review'>Checking the form...</div>", label="Before you start")
            ui.plot = gr.Plot(label="Training curves")
            ui.probes = gr.Dataframe(
                headers=["prompt", "base", "current"], label="Probe prompts: base vs now", wrap=True, interactive=False
            )
            ui.log = gr.Textbox(label="Log (tail)", lines=8, max_lines=8, autoscroll=True, interactive=False)
            with gr.Accordion("Config file and headless command", open=False):
                with gr.Row():
                    ui.save = gr.Button("Save config as YAML")
                    ui.load = gr.UploadButton("Load config YAML", file_types=[".yaml", ".yml"])
                ui.config_file = gr.File(label="Config", interactive=False)
                ui.command = gr.Code(command_text(defaults), language="shell", label="Reproduce headless")
    ui.timer = gr.Timer(1.0, active=False)
    ui.flagged = gr.State([])  # fields whose info line shows a problem
    return ui


class _Handlers:
    """The tab's event handlers: each reads the form, calls one service, renders the answer."""

    def __init__(self, studio: Studio, form: Form):
        self.studio, self.form = studio, form
        self.names = field_order()
        defaults = RunConfig()
        self.optional_numbers = {
            f.name
            for _, section, _ in SECTIONS
            for f, kind, optional in typed_fields(getattr(defaults, section))
            if optional and kind in (int, float)
        }
        self.base_info = {name: component.info for name, component in form.components.items()}

    def read_config(self, *values) -> RunConfig:
        by_name = dict(zip(self.names, values, strict=True))
        for name in self.optional_numbers:  # an emptied Number arrives as 0 or None: "not set"
            if by_name.get(name) in (0, None, ""):
                by_name[name] = None
        flat = self.form.values([by_name[n] for n in self.form.components])
        config = RunConfig()
        apply_overrides(config, flat)
        config.run_name = flat.get("run_name", "")
        return config

    def snapshot(self):
        p = self.studio.progress()
        log_text = self.studio.run(p.run_dir).log_tail(20) if p.run_dir else ""
        headers, rows = probe_table(p.probes)
        table = gr.Dataframe(value=rows, headers=headers)
        return p, status_html(p), training_figure(p.metrics, dpo=is_dpo(p.metrics)), log_text, table

    def on_start(self, *values):
        try:
            self.studio.start_training(self.read_config(*values))
        except ConfigError as exc:
            for problem in exc.problems:
                gr.Warning(f"{problem.field}: {problem.message}")
            raise gr.Error("; ".join(f"{p.field}: {p.message}" for p in exc.problems)) from exc
        except (ValueError, RuntimeError) as exc:  # JobBusy is a RuntimeError
            raise gr.Error(str(exc)) from exc
        return (*self.snapshot()[1:], gr.Timer(active=True))

    def on_start_yaml(self, text: str):
        """For scripts: start a run from a config's YAML text (what ``Save config`` writes)."""
        import yaml

        try:
            config = RunConfig.from_dict(yaml.safe_load(text) or {})
            self.studio.start_training(config)
        except (ValueError, RuntimeError, yaml.YAMLError) as exc:
            raise gr.Error(str(exc)) from exc
        return status_html(self.studio.progress())

    def on_tick(self):
        p, *shown = self.snapshot()
        return (*shown, gr.Timer(active=p.active))

    def on_stop(self):
        if not self.studio.stop_training():
            gr.Info("No training is running.")
        return self.snapshot()[1:4]

    def field_notes(self, problems, flagged):
        """Each field's info line: its problem while it has one, its help again once fixed."""
        notes = {}
        for problem in problems:
            if problem.field in self.base_info and problem.field not in notes:
                notes[problem.field] = ("Error: " if problem.level == "error" else "Warning: ") + problem.message
        updates = [
            gr.update(info=notes[n]) if n in notes else gr.update(info=self.base_info[n]) if n in flagged else gr.skip()
            for n in self.names
        ]
        return updates, sorted(notes)

    def reviewed(self, config: RunConfig, flagged):
        r = self.studio.review(config)
        updates, flagged = self.field_notes(r.problems, flagged or [])
        return review_html(r), command_text(config), r.batch_text, flagged, *updates

    def on_review(self, flagged, *values):
        try:
            config = self.read_config(*values)
        except ValueError as exc:  # a value of the wrong type, named by its field
            field, _, message = str(exc).partition(": ")
            updates, flagged = self.field_notes([Problem(field, message)], flagged or [])
            html = f"<div id='train-review' style='color:#dc2626'>error: {exc}</div>"
            return html, gr.skip(), gr.skip(), flagged, *updates
        return self.reviewed(config, flagged)

    def on_save(self, *values):
        try:
            config = self.read_config(*values)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        path = Path(tempfile.mkdtemp(prefix="studio-config-")) / "run.yaml"
        config.save(path)
        return str(path)

    def on_load(self, file):
        try:
            config = RunConfig.load(file if isinstance(file, str) else file.name)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        return self.form.updates(config)

    def on_preset(self, name):
        if not name:
            raise gr.Error("Pick a preset first.")
        return self.form.updates(preset(name))


def _wire(ui: SimpleNamespace, h: _Handlers, form: Form) -> list:
    ordered = [form.components[n] for n in h.names]
    outputs = [ui.status, ui.plot, ui.log, ui.probes, ui.timer]
    ui.start.click(h.on_start, ordered, outputs, api_name="start_training")
    yaml_text, yaml_status = gr.Textbox(visible=False), gr.HTML(visible=False)
    gr.Button(visible=False).click(h.on_start_yaml, yaml_text, yaml_status, api_name="train_from_yaml")
    ui.stop.click(h.on_stop, None, [ui.status, ui.plot, ui.log], api_name="stop_training")
    ui.timer.tick(h.on_tick, None, outputs, api_name="progress")
    reviewed = [ui.review, ui.command, ui.batch, ui.flagged, *ordered]
    gr.on(
        [c.change for c in ordered],
        h.on_review,
        [ui.flagged, *ordered],
        reviewed,
        api_name="review_config",
        trigger_mode="always_last",
        show_progress="hidden",
    )
    gr.on(None, lambda: h.reviewed(RunConfig(), []), None, reviewed, show_progress="hidden")  # on page load
    ui.save.click(h.on_save, ordered, ui.config_file, api_name="save_config")
    ui.load.upload(h.on_load, ui.load, form.inputs)
    ui.apply_preset.click(h.on_preset, ui.preset, form.inputs, api_name="apply_preset")
    ui.alpha2r.click(lambda r: 2 * int(r or 0), form.components["lora_r"], form.components["lora_alpha"])
    return outputs


def build(studio: Studio, data_components: dict | None = None) -> dict:
    defaults = RunConfig()
    form = Form()
    ui = _layout(studio, form, defaults)
    _tune_components(form, studio.device().kind)
    studio.warm_up()  # before any handler thread imports the model libraries
    handlers = _Handlers(studio, form)
    outputs = _wire(ui, handlers, form)
    if data_components:
        # Data tab choices flow into the form so the previewed data is what trains.
        for key, name in (
            ("source", "dataset"),
            ("format", "format"),
            ("columns", "columns"),
            ("system", "system_prompt"),
        ):
            data_components[key].change(lambda v: v, data_components[key], form.components[name])
    return {
        "form": form,
        "status": ui.status,
        "plot": ui.plot,
        "log": ui.log,
        "timer": ui.timer,
        "review": ui.review,
        "attach": (handlers.on_tick, outputs),
    }
