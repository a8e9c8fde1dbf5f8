"""Export tab: the adapter as a zip, a merged full model, the model card, and a push to the Hub.

Headless, the same: ``python -m studio export --run runs/<id> --out DIR [--merge] [--dtype D]``
and ``HF_TOKEN=... python -m studio push --run runs/<id> --repo ID [--private] [--merged]``.
The token field is a password field, emptied after every push whatever its outcome; the token
is passed to the service for the requests and kept nowhere else.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from studio.services import RepoExists, Studio, token_hint

DTYPES = [("bf16 (half the size, safe range)", "bf16"), ("fp16", "fp16"), ("fp32 (exact)", "fp32")]
UPDATE_LABEL = "Update the repository if it exists"
WHAT = [("Adapter (small; loads on the base with PEFT)", "adapter"), ("Merged full model", "merged")]


def _layout() -> SimpleNamespace:
    """The components, laid out in the current tab."""
    ui = SimpleNamespace()
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            ui.run = gr.Dropdown([], label="Run", info="A run with a saved adapter (or full model).")
            ui.refresh = gr.Button("Refresh runs", size="sm")
            ui.about = gr.Markdown(elem_id="export-run")
        with gr.Column(scale=2):
            with gr.Accordion("Download the adapter", open=True):
                ui.zip_button = gr.Button("Zip the adapter")
                ui.zipped = gr.File(
                    label="Adapter (.zip): adapter, tokenizer with chat template, model card", interactive=False
                )
            with gr.Accordion("Merge into the base", open=True):
                ui.dtype = gr.Radio(DTYPES, value="bf16", label="Weights dtype")
                ui.merge_button = gr.Button("Merge and save the full model")
                ui.merged = gr.Markdown(elem_id="export-merge")
            with gr.Accordion("Model card", open=False):
                ui.card_button = gr.Button("Write the model card")
                ui.card_meta = gr.Code(label="README.md metadata", language="yaml", interactive=False)
                ui.card_body = gr.Markdown(elem_id="export-card")
                ui.card_plot = gr.Image(label="loss.png", type="filepath", interactive=False, height=260)
            with gr.Accordion("Push to the Hugging Face Hub", open=True):
                with gr.Row():
                    ui.repo = gr.Textbox(
                        label="Repository", placeholder="my-tuned-model or my-org/my-tuned-model", scale=3
                    )
                    ui.private = gr.Checkbox(label="Private", value=True, scale=1)
                ui.what = gr.Radio(WHAT, value="adapter", label="What to push")
                ui.token = gr.Textbox(
                    label="Hugging Face token (write)",
                    type="password",
                    placeholder="hf_... (empty: HF_TOKEN / Space secret)",
                    elem_id="export-token",
                )
                ui.hint = gr.Markdown(token_hint())
                ui.update = gr.Checkbox(label=UPDATE_LABEL, value=False)
                ui.push_button = gr.Button("Push to the Hub", variant="primary")
                ui.pushed = gr.Markdown(elem_id="export-push")
    return ui


def build(studio: Studio) -> dict:
    ui = _layout()

    def runs_update(current=None):
        ids = [r.id for r in studio.runs() if r.has_adapter()]
        return gr.update(choices=ids, value=current if current in ids else (ids[0] if ids else None))

    def on_run(run_id):
        return _describe(studio, run_id) if run_id else "No trained run yet: train one in the Train tab."

    def on_zip(run_id):
        try:
            return str(studio.export_zip(_need(run_id)))
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc

    def on_merge(run_id, dtype, progress=gr.Progress()):
        try:
            report = studio.merge(_need(run_id), dtype, lambda f, m: progress(f, desc=m))
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        return _merge_text(report.to_dict())

    def on_card(run_id):
        try:
            text = studio.model_card(_need(run_id)).read_text()
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        _, meta, body = text.split("---\n", 2)
        body = body.replace("![Training loss](loss.png)", "")  # shown below as an image
        plot = studio.run(run_id).path / "loss.png"
        return meta, body, str(plot) if plot.exists() else None

    def on_push(run_id, repo, private, what, token, dtype, update, progress=gr.Progress()):
        options = dict(private=private, merged=what == "merged", dtype=dtype, update=update)
        try:
            result = studio.push(_need(run_id), repo, token or None, lambda f, m: progress(f, desc=m), **options)
        except RepoExists as exc:
            gr.Warning(str(exc))
            offer = gr.update(label=f"{UPDATE_LABEL}: {exc.repo_id} exists, tick to push a new commit to it")
            return f"**Already on the Hub:** [{exc.repo_id}]({exc.url}). {exc}", offer
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        return _push_text(result.to_dict()), gr.update(label=UPDATE_LABEL, value=False)

    ui.refresh.click(runs_update, ui.run, ui.run, api_name="export_runs")
    opened = gr.Timer(0.5)  # once per page load: offer the runs that exist now
    opened.tick(
        lambda current: (runs_update(current), gr.Timer(active=False)), ui.run, [ui.run, opened], api_name=False
    )
    ui.run.change(on_run, ui.run, ui.about, api_name=False)
    ui.zip_button.click(on_zip, ui.run, ui.zipped, api_name="export_zip")
    ui.merge_button.click(on_merge, [ui.run, ui.dtype], ui.merged, concurrency_id="model", api_name="export_merge")
    ui.card_button.click(on_card, ui.run, [ui.card_meta, ui.card_body, ui.card_plot], api_name="model_card")
    push_inputs = [ui.run, ui.repo, ui.private, ui.what, ui.token, ui.dtype, ui.update]
    ui.push_button.click(
        on_push, push_inputs, [ui.pushed, ui.update], concurrency_id="model", api_name="push_to_hub"
    ).then(lambda: ("", token_hint()), None, [ui.token, ui.hint], api_name=False)  # emptied, whatever happened
    return {"run": ui.run, "refresh": (runs_update, ui.run)}


def _need(run_id: str | None) -> str:
    if not run_id:
        raise ValueError("Pick a run first (one with a saved adapter); train one in the Train tab.")
    return run_id


def _describe(studio: Studio, run_id: str) -> str:
    run = studio.run(run_id)
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
