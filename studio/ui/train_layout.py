"""Where each RunConfig field sits in the Train form, and the tab's components in their places.

The tab reads top to bottom as it is used: the preset, the run's name, Start and Stop come first on
every screen (on a phone too); then the status line, and under it, full width and only once a run
of yours exists, the curves, the probe and GRPO tables and the log; then the form beside its review.
A method's own section (DPO, KTO, GRPO) shows only while that method is chosen.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from studio.config import METHODS, RunConfig
from studio.schema import typed_fields
from studio.services import LOCAL, Studio, command_text, guide, training_figure
from studio.ui.forms import Form
from studio.ui.train_guide import build_guide
from studio.ui.train_views import probe_frame, samples_frame, status_html

# The RunConfig sections in the order of the form's values in the named endpoints
# (start_training, review_config, ...); LAYOUT below decides where each field is shown.
SECTIONS = RunConfig.sections()
# How the form is laid out: groups of rows, each row a few fields side by side.
LAYOUT = [
    ("Model and method", True, [["model", "precision", "method", "adapter"]]),
    (
        "LoRA adapter",
        True,
        [["lora_r", "lora_alpha", "lora_dropout"], ["target_modules", "use_rslora", "use_dora", "compute_dtype"]],
    ),
    (
        "Data",
        True,
        [
            ["dataset", "format", "columns"],
            ["system_prompt", "chat_template", "val_fraction", "max_rows"],
            ["val_dataset"],
        ],
    ),
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
        "Evaluation, checkpoints, early stopping, tracker",
        False,
        [["logging_steps", "eval_steps", "save_steps", "save_total_limit", "early_stopping_patience"], ["report_to"]],
    ),
    ("DPO, ORPO and KTO", True, [["beta", "dpo_loss", "dpo_label_smoothing"]]),
    ("KTO", True, [["kto_desirable_weight", "kto_undesirable_weight"]]),
    (
        "GRPO",
        True,
        [
            ["num_generations", "max_completion_length", "kl_beta", "grpo_temperature", "num_iterations"],
            ["reward_exact", "answer_column", "reward_format", "format_regex"],
            ["reward_length", "length_target", "reward_no_repeat"],
            ["reward_model", "reward_model_run"],
        ],
    ),
    ("Probe prompts", False, [["probe_prompts", "probe_max_new_tokens"]]),
    (
        "Where to run",
        False,
        [
            ["on", "strategy", "num_processes"],
            ["ray_address", "ray_workers", "cpus_per_worker", "gpus_per_worker", "max_failures"],
        ],
    ),
]
# The sections a method reads (KTO reads beta from the DPO section); the others show for every method.
METHOD_SECTIONS = {
    title: {name for name, method in METHODS.items() if section in method.options}
    for title, section in (("DPO, ORPO and KTO", "dpo"), ("KTO", "kto"), ("GRPO", "grpo"))
}


def field_order() -> list[str]:
    defaults = RunConfig()
    names = [f.name for section in SECTIONS for f, _, _ in typed_fields(getattr(defaults, section))]
    return names + ["run_name"]


def field_owner(defaults: RunConfig) -> dict[str, object]:
    """Field name -> the section object holding it."""
    out = {"run_name": defaults}
    for section in SECTIONS:
        for f, _, _ in typed_fields(getattr(defaults, section)):
            out[f.name] = getattr(defaults, section)
    return out


def _layout_form(form: Form, defaults: RunConfig, ui: SimpleNamespace) -> None:
    owner, method = field_owner(defaults), defaults.train.method
    ui.sections = {}  # a method's own section -> the methods it shows for
    for title, is_open, rows in LAYOUT:
        shown_for = METHOD_SECTIONS.get(title)
        with gr.Accordion(title, open=is_open, visible=shown_for is None or method in shown_for) as section:
            for row in rows:
                with gr.Row():
                    for name in row:
                        form.add(owner[name], [name])
                    if name == "lora_dropout":
                        ui.alpha2r = gr.Button("alpha = 2r", size="sm", scale=0, min_width=90)
            if title == "Optimisation":
                ui.batch = gr.Markdown(elem_id="train-batch")
            if title == "Model and method":  # by the method: what fits the data, and the fixes
                ui.guide = build_guide()
        if shown_for:
            ui.sections[section] = shown_for
    missing = set(field_order()) - set(form.components) - {"run_name"}
    assert not missing, f"fields missing from the Train layout: {missing}"


def _watch(studio: Studio, ui: SimpleNamespace) -> None:
    """Status, then (full width, once a run of this person's exists) curves, tables and log."""
    ui.message = gr.HTML(elem_id="train-message")  # refusals, by the buttons; what is below stays
    ui.status = gr.HTML(status_html(studio.progress(LOCAL)))
    with gr.Column(visible=False, elem_id="train-watch") as ui.watch:
        ui.plot = gr.Plot(training_figure([]), label="Training curves")
        ui.samples = samples_frame([], [], label="GRPO: sampled answers of the latest step, best first", wrap=True)
        with gr.Row():
            ui.probes = probe_frame([], label="Probe prompts: now vs base", wrap=True, interactive=False, scale=3)
            ui.log = gr.Textbox(label="Log (tail)", lines=8, max_lines=8, autoscroll=True, interactive=False, scale=2)


def build_layout(studio: Studio, form: Form, defaults: RunConfig) -> SimpleNamespace:
    ui = SimpleNamespace()
    with gr.Row(elem_id="train-actions"):
        ui.preset = gr.Dropdown(
            list(guide.PRESETS), value=None, label="Preset", info="Fills the whole form.", scale=3, min_width=220
        )
        ui.apply_preset = gr.Button("Fill the form", scale=1, min_width=110)
        with gr.Column(scale=2, min_width=160):
            form.add(defaults, ["run_name"])
        ui.start = gr.Button("Start training", variant="primary", scale=2, min_width=150, elem_id="train-start")
        ui.stop = gr.Button("Stop", variant="stop", scale=1, min_width=90)
    _watch(studio, ui)
    with gr.Row():
        with gr.Column(scale=3):
            _layout_form(form, defaults, ui)
        with gr.Column(scale=2):
            ui.review = gr.HTML("<div id='train-review'>Checking the form...</div>", label="Before you start")
            with gr.Row():
                ui.resumable = gr.Dropdown(
                    [], label="Interrupted run", info="A stopped or killed run, from its last checkpoint.", scale=3
                )
                ui.resume = gr.Button("Resume", scale=1, min_width=100)
            with gr.Accordion("Config file and headless command", open=False):
                with gr.Row():
                    ui.save = gr.Button("Save config as YAML")
                    ui.load = gr.UploadButton("Load config YAML", file_types=[".yaml", ".yml"])
                ui.config_file = gr.File(label="Config", interactive=False)
                ui.command = gr.Code(command_text(defaults), language="shell", label="Reproduce headless")
    ui.timer = gr.Timer(1.0, active=False)
    ui.flagged = gr.State([])  # fields whose info line shows a problem
    ui.shown_run = gr.State("")  # the run whose config the form shows
    return ui
