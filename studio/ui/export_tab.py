"""Export tab: the adapter as a zip, a merged full model, a GGUF, the model card, and a push to the Hub.

Headless, the same: ``python -m studio export --run runs/<id> --out DIR [--merged] [--dtype D]``
and ``HF_TOKEN=... python -m studio push --run runs/<id> --repo ID [--no-private] [--merged | --gguf T]``; the
options (dtype, merged, private, update, verify) are one ExportConfig, documented once.
The token field is a password field, emptied after every push whatever its outcome; the token
is passed to the service for the requests and kept nowhere else. A refusal (no run picked, no
token) shows as a card under its own button, without a toast that would cover the zip link.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from studio.config import GGUF_CHOICES, ExportConfig
from studio.services import RepoExists, Sampling, Studio, token_hint
from studio.ui.errors import card
from studio.ui.forms import Form
from studio.ui.space import user_of

UPDATE_LABEL = next(f.metadata["label"] for f in fields(ExportConfig) if f.name == "update")
GGUF_TYPE = "q8_0"  # the GGUF section's first choice


def push_gguf_label(gguf_type: str) -> str:
    """The button names the type it pushes (chosen under "GGUF for llama.cpp and Ollama", maybe closed)."""
    return f"Push the {gguf_type} GGUF with its Modelfile"


def _layout() -> SimpleNamespace:
    """The components, laid out in the current tab; the options are generated from ExportConfig."""
    ui = SimpleNamespace(form=Form())
    defaults = ExportConfig()
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            ui.run = gr.Dropdown([], label="Run", info="A run with a saved adapter (or full model).")
            ui.refresh = gr.Button("Refresh runs", size="sm")
            ui.about = gr.Markdown(elem_id="export-run")
        with gr.Column(scale=2):
            with gr.Accordion("Download the adapter", open=True):
                ui.zip_button = gr.Button("Zip the adapter")
                ui.zip_note = gr.HTML(elem_id="export-zip-note")
                ui.zipped = gr.File(
                    label="Adapter (.zip): adapter, tokenizer with chat template, model card", interactive=False
                )
            with gr.Accordion("Merge into the base", open=True):
                ui.form.add(defaults, ["dtype"])
                ui.merge_button = gr.Button("Merge and save the full model")
                ui.merge_note = gr.HTML(elem_id="export-merge-note")
                ui.merged = gr.Markdown(elem_id="export-merge", min_height=40)  # room for its progress bar
            with gr.Accordion("GGUF for llama.cpp and Ollama", open=False):
                # Here a GGUF is what the button writes: a type is chosen already (q8_0: near-lossless,
                # half of f16), "none" is no choice; the push below says which type it sends.
                ui.form.add(ExportConfig(gguf=GGUF_TYPE), ["gguf"])
                gguf = ui.form.components["gguf"]
                gguf.label, gguf.choices = "GGUF type", [(c, c) for c in GGUF_CHOICES if c != "none"]
                ui.gguf_button = gr.Button("Write and check the GGUF")
                ui.gguf_note = gr.HTML(elem_id="export-gguf-note")
                ui.gguf_files = gr.File(label="GGUF file and Modelfile", file_count="multiple", interactive=False)
                ui.gguf_text = gr.Markdown(elem_id="export-gguf")
            with gr.Accordion("Model card", open=False):
                ui.card_button = gr.Button("Write the model card")
                ui.card_note = gr.HTML(elem_id="export-card-note")
                ui.card_meta = gr.Code(label="README.md metadata", language="yaml", interactive=False)
                ui.card_body = gr.Markdown(elem_id="export-card")
                ui.card_plot = gr.Image(label="loss.png", type="filepath", interactive=False, height=260)
            with gr.Accordion("Push to the Hugging Face Hub", open=True):
                with gr.Row():
                    ui.repo = gr.Textbox(
                        label="Repository", placeholder="my-tuned-model or my-org/my-tuned-model", scale=3
                    )
                    ui.form.add(defaults, ["private"])
                ui.form.add(defaults, ["merged"])
                ui.token = gr.Textbox(
                    label="Hugging Face token (write)",
                    type="password",
                    placeholder="hf_... (empty: HF_TOKEN / Space secret)",
                    elem_id="export-token",
                )
                ui.hint = gr.Markdown(token_hint())
                with gr.Row():
                    ui.form.add(defaults, ["update", "verify"])
                with gr.Row():
                    ui.push_button = gr.Button("Push to the Hub", variant="primary")
                    ui.push_gguf_button = gr.Button(push_gguf_label(GGUF_TYPE))
                ui.push_note = gr.HTML(elem_id="export-push-note")
                ui.pushed = gr.Markdown(elem_id="export-push", min_height=40)  # room for its progress bar
    return ui


def build(studio: Studio, sampling: Form | None = None) -> dict:
    """``sampling``: the Chat tab's sampling form; a GGUF's Modelfile takes its settings."""
    ui = _layout()
    form = ui.form

    def runs_update(current, request: gr.Request):
        """The runs with an adapter that are the person's own: exports write into the run."""
        ids = [r.id for r in studio.runs(user_of(request), mine=True) if r.has_adapter()]
        return gr.update(choices=ids, value=current if current in ids else (ids[0] if ids else None))

    def on_run(run_id, request: gr.Request):
        if not run_id:
            return "No trained run yet: train one in the Train tab."
        try:
            return _describe(studio, run_id, user_of(request))
        except ValueError as exc:
            return card(str(exc))

    def on_zip(run_id, request: gr.Request):
        """Outputs: the zip, its note (a card on a refusal, the zip link left as it was)."""
        try:
            return str(studio.export_zip(_need(run_id), user_of(request))), ""
        except ValueError as exc:
            return gr.skip(), card(str(exc))

    def on_merge(run_id, dtype, request: gr.Request, progress=gr.Progress()):
        try:
            report = studio.merge(_need(run_id), dtype, lambda f, m: progress(f, desc=m), user_of(request))
        except ValueError as exc:
            return gr.skip(), card(str(exc))
        return _merge_text(report.to_dict()), ""

    # One progress bar per action, on its result (Gradio draws one on every output otherwise).
    ui.refresh.click(runs_update, ui.run, ui.run, api_name="export_runs")
    ui.run.change(on_run, ui.run, ui.about, api_name=False)
    ui.zip_button.click(on_zip, ui.run, [ui.zipped, ui.zip_note], api_name="export_zip", show_progress_on=ui.zipped)
    merge_io = [ui.run, form.components["dtype"]], [ui.merged, ui.merge_note]
    ui.merge_button.click(
        on_merge, *merge_io, concurrency_id="model", api_name="export_merge", show_progress_on=ui.merged
    )
    card_outputs = [ui.card_meta, ui.card_body, ui.card_plot, ui.card_note]
    ui.card_button.click(_card_handler(studio), ui.run, card_outputs, api_name="model_card")
    _wire_gguf_and_push(studio, ui, sampling)
    return {"run": ui.run, "refresh": (runs_update, ui.run)}


def _wire_gguf_and_push(studio: Studio, ui: SimpleNamespace, sampling: Form | None) -> None:
    """The GGUF's button, the push buttons, and the GGUF push's label that follows the chosen type."""
    form = ui.form
    gguf_inputs = [ui.run, form.components["gguf"], *(sampling.inputs if sampling else [])]
    gguf_outputs = [ui.gguf_files, ui.gguf_text, ui.gguf_note]
    ui.gguf_button.click(
        _gguf_handler(studio, sampling),
        gguf_inputs,
        gguf_outputs,
        concurrency_id="model",
        api_name="export_gguf",
        show_progress_on=ui.gguf_files,
    )
    form.components["gguf"].change(
        lambda t: gr.update(value=push_gguf_label(t)), form.components["gguf"], ui.push_gguf_button, api_name=False
    )
    push_inputs = [ui.run, ui.repo, ui.token, *form.inputs]
    # The handler empties the token field itself, whatever happened (a failed push included).
    push_outputs = [ui.pushed, form.components["update"], ui.push_note, ui.token, ui.hint]
    ui.push_button.click(
        _push_handler(studio, form),
        push_inputs,
        push_outputs,
        concurrency_id="model",
        api_name="push_to_hub",
        show_progress_on=ui.pushed,
    )
    ui.push_gguf_button.click(
        _push_handler(studio, form, gguf=True),
        push_inputs,
        push_outputs,
        concurrency_id="model",
        api_name="push_gguf_to_hub",
        show_progress_on=ui.pushed,
    )


def _card_handler(studio: Studio):
    """Write the model card; show its metadata, its body and the loss plot beside it."""

    def on_card(run_id, request: gr.Request):
        user = user_of(request)
        try:
            path = studio.model_card(_need(run_id), user)
        except ValueError as exc:
            return gr.skip(), gr.skip(), gr.skip(), card(str(exc))
        _, meta, body = path.read_text().split("---\n", 2)
        body = re.sub(r"!\[[^\]]*\]\(loss\.png\)\n?", "", body)  # shown below as an image
        plot = path.parent / "loss.png"  # drawn beside the card, in the run's export folder
        return meta, body, str(plot) if plot.exists() else None, ""

    return on_card


def _push_handler(studio: Studio, form: Form, gguf: bool = False):
    """Push with the form's ExportConfig; an existing repository offers the update switch.
    ``gguf``: the checked GGUF of the type chosen above (written first when missing), else the adapter
    or merged model whatever that type says."""

    def on_push(request: gr.Request, run_id, repo, token, *values, progress=gr.Progress()):
        """Outputs: result, the update switch, the note card, the token field (emptied), its hint."""
        emptied = ("", token_hint())
        try:
            options = ExportConfig(**{**form.values(values), **({} if gguf else {"gguf": "none"})})
            if gguf and options.gguf == "none":
                raise ValueError("GGUF type: choose one under 'GGUF for llama.cpp and Ollama' first (q8_0, q4_0...).")
            result = studio.push(
                _need(run_id), repo, token or None, lambda f, m: progress(f, desc=m), user_of(request), options=options
            )
        except RepoExists as exc:
            offer = gr.update(label=f"{UPDATE_LABEL}: {exc.repo_id} exists, tick to push a new commit to it")
            return f"**Already on the Hub:** [{exc.repo_id}]({exc.url}). {exc}", offer, "", *emptied
        except ValueError as exc:
            return gr.skip(), gr.skip(), card(str(exc)), *emptied  # an earlier push's result stays
        return _push_text(result.to_dict()), gr.update(label=UPDATE_LABEL, value=False), "", *emptied

    return on_push


def _need(run_id: str | None) -> str:
    if not run_id:
        raise ValueError("Pick a run first (one with a saved adapter); train one in the Train tab.")
    return run_id


def _describe(studio: Studio, run_id: str, user: str) -> str:
    run = studio.run(run_id, user)
    summary = run.summary()
    lines = [
        f"**{run_id}**",
        f"{summary['method'].upper()} · {summary['adapter']} · {summary['status']} at step {summary['step']}",
        f"Folder: `{run.path}`",
    ]
    pushes = run.read_json("hub.json").get("pushes", [])
    if pushes:
        last = pushes[-1]
        lines.append(f"Last push: [{last['repo_id']}]({last['url']}) ({last['what']})")
    return "\n\n".join(lines)


def _gguf_handler(studio: Studio, sampling: Form | None):
    """Write the run as a GGUF of the chosen type; only a file that passed its check is offered.
    Its Modelfile carries the Chat tab's sampling (temperature, top-k, top-p, repetition penalty)."""

    def on_gguf(request: gr.Request, run_id, gguf_type, *chat_values, progress=gr.Progress()):
        if gguf_type == "none":
            return gr.skip(), gr.skip(), card("GGUF type: choose one first (f16, q8_0, q4_0...).")
        try:
            chosen = Sampling(**sampling.values(chat_values)) if sampling and chat_values else None
            report = studio.export_gguf(
                _need(run_id), gguf_type, chosen, lambda f, m: progress(f, desc=m), user=user_of(request)
            )
        except ValueError as exc:  # a file that failed its check is not offered: the earlier one stays
            return gr.skip(), gr.skip(), card(str(exc))
        folder = Path(report.file).parent
        check = report.check
        lines = [
            f"**Saved and checked** `{report.file}` ({report.size_bytes / 2**20:.1f} MiB, {report.gguf_type}, "
            f"written in {report.export_seconds:.1f} s); stops at `{report.end_of_turn}`.",
            f"Read back with transformers: max next-token logit difference {check['max_logit_diff']:.3g} "
            f"(KL {check['kl']:.2g} nats, tolerance {check['tolerance']:g}), greedy agreement {check['greedy_agreement']}.",
            f"Ollama: `cd {folder} && ollama create my-model -f Modelfile`",
        ]
        lines += [f"⚠ {w}" for w in report.warnings]
        return [report.file, str(folder / "Modelfile")], "\n\n".join(lines), ""

    return on_gguf


def _merge_text(report: dict) -> str:
    saved = f"**Saved** `{report['folder']}` ({report['size_bytes'] / 2**20:.0f} MiB, {report['dtype']})."
    if not report["merged"]:
        return saved + " A full fine-tune has no adapter to merge: it was converted to this dtype."
    lines = [
        saved,
        f"{report['layers_changed']} of {report['layers_targeted']} adapted layers changed; "
        f"max logit difference vs the base {report['max_logit_diff_vs_base']:.3g}, "
        f"vs base + adapter {report['max_logit_diff_vs_adapter']:.3g}.",
        f"Greedy answer to *{report['prompt']}* "
        + ("equals the adapter's." if report["same_answer"] else "differs from the adapter's."),
    ]
    lines += [f"⚠ {w}" for w in report["warnings"]]
    return "\n\n".join(lines)


def _push_text(result: dict) -> str:
    check = result.get("check") or {}
    state = "created" if result["created"] else "updated"
    lines = [
        f"**Pushed** the {result['what']} to [{result['repo_id']}]({result['url']}) "
        f"({state}, {'private' if result['private'] else 'public'}, {len(result['files'])} files, "
        f"{result['size_bytes'] / 2**20:.1f} MiB). Token from {result['token_source']}.",
    ]
    if check:
        verdict = "Check passed" if check.get("ok") else "Check FAILED"
        lines.append(f"**{verdict}:** re-downloaded from the Hub and {check['message']}.")
    return "\n\n".join(lines)
