"""The Data tab's "Clean and split" section: the form generated from CleanOptions, the clean, its
report (steps, semantic groups), the removed rows, the files, and "Use in Train", which other
sections (generated rows, pairs) use for their files too.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from studio.schema import ConfigError, apply_overrides, typed_fields
from studio.services import CleanOptions, Studio, clean, default_output, save
from studio.ui.errors import card, user_error
from studio.ui.forms import Form
from studio.ui.space import user_of

MARKDOWN_MARKS = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def plain(text) -> str:
    """Text that comes from the data (names, columns, rows) shown as text: no HTML, no Markdown."""
    return MARKDOWN_MARKS.sub(r"\\\1", html.escape(str(text)))


def _report(result, files: dict) -> str:
    lines = ["| step | removed | modified |", "|---|---:|---:|"]
    lines += [f"| {s.name.replace('_', ' ')} | {s.removed} | {s.modified or ''} |" for s in result.steps]
    split = f"{len(result.train)} train" + (f" + {len(result.val)} validation" if result.val else "")
    for step in (s for s in result.steps if s.groups):
        lines += [f"\n**Same meaning, one kept per group** (embedded by {plain(step.embedder)}):\n"]
        lines += [
            " ≈ ".join(f"row {m['row']} “{plain(m['text'][:80])}”" for m in group) + "\n" for group in step.groups
        ]
    return (
        f"**Kept {result.kept} of {result.input_rows} rows** ({split}); fingerprint `{result.fingerprint}`.\n\n"
        + "\n".join(lines)
        + f"\n\nSaved to `{files['train']}`"
        + (f" (validation: `{files['val']}`)" if "val" in files else "")
        + ". A run on it records the same fingerprint"
        + (
            " (in the Train form: dataset = the file above, val_dataset = the validation file)."
            if "val" in files
            else "."
        )
    )


def _removed_table(result) -> dict:
    rows = [[s.name, e["row"], e["reason"], e["text"]] for s in result.steps for e in s.examples]
    return {"headers": ["step", "row", "reason", "row text"], "data": rows}


def _downloads(files: dict) -> list[str]:
    """Copies the browser may download (Gradio serves only the temp folder and the working directory)."""
    folder = Path(tempfile.mkdtemp(prefix="studio-clean-"))
    return [str(shutil.copy(path, folder / Path(path).name)) for path in files.values()]


# How the generated cleaning form is laid out: columns of CleanOptions fields (rows side by side).
CLEAN_LAYOUT = [
    [["special_tokens"], ["drop_empty"], ["exclude"]],
    [["min_tokens", "max_tokens"], ["min_chars", "max_chars"]],
    [["dedup"], ["near_threshold"], ["semantic_threshold", "semantic_model"], ["val_fraction", "seed"]],
]


def controls() -> dict:
    form, defaults = Form(), CleanOptions()
    with gr.Accordion("Clean and split", open=True):
        with gr.Row():
            for column in CLEAN_LAYOUT:
                with gr.Column():
                    for row in column:
                        with gr.Row():
                            form.add(defaults, row)
        with gr.Row():
            run = gr.Button("Clean and save", variant="primary")
            use = gr.Button("Use cleaned data in Train", interactive=False)
        note = gr.HTML(elem_id="clean-note")  # a refused Clean says why here
        report = gr.Markdown(elem_id="clean-report")
        removed = gr.Dataframe(
            headers=["step", "row", "reason", "row text"],
            label="Examples of removed rows (after Clean and save)",
            wrap=True,
            max_height=320,
            interactive=False,
        )
        files = gr.File(label="Cleaned files", file_count="multiple", interactive=False)
    missing = {f.name for f, _, _ in typed_fields(CleanOptions)} - set(form.components)
    assert not missing, f"cleaning options missing from the Data tab: {missing}"
    return dict(form=form, options=form.inputs, run=run, use=use, report=report, removed=removed, files=files,
                note=note)  # fmt: skip


def read_options(form: Form, values) -> CleanOptions:
    """The form's values (in CleanOptions field order) as CleanOptions (checked; ConfigError names the field)."""
    options = CleanOptions()
    apply_overrides(options, form.values(values))
    options.check()
    return options


def wire(studio: Studio, ui: dict, view: dict, cleaning: dict, load) -> None:
    """Clean the loaded data and save it; "Use in Train" puts the cleaned file in the source (and Train)."""
    cleaned = gr.State("")

    def on_clean(request: gr.Request, params, model_value, *values):
        refused = (*[gr.skip()] * 5,)  # an earlier clean's report and files stay
        if not params:
            return *refused, card("Load a dataset first (Load and preview), then clean it.")
        user = user_of(request)
        try:
            options = read_options(cleaning["form"], values)
            data = studio.load_data(params["source"], params["format"], params["columns"], params["system"], user)
            result = clean(data, options, studio.tokenizer(model_value, user))
            files = save(result, default_output(params["source"], result.fingerprint))
        except ConfigError as exc:
            return *refused, card([str(p) for p in exc.problems])
        except ValueError as exc:
            return *refused, card(str(exc))
        ready = gr.update(interactive=True)
        return _report(result, files), _removed_table(result), _downloads(files), ready, files["train"], ""

    outputs = [cleaning["report"], cleaning["removed"], cleaning["files"], cleaning["use"], cleaned, cleaning["note"]]
    inputs = [view["loaded"], ui["model"], *cleaning["options"]]
    cleaning["run"].click(on_clean, inputs, outputs, api_name="clean_data")
    wire_use(ui, view, load, cleaning["use"], cleaned, api_name="use_cleaned")


def wire_use(ui: dict, view: dict, load, button, path_state, api_name: str | None = None) -> None:
    """A "Use in Train" button: the file in ``path_state`` becomes the source, loaded and handed to Train."""

    def on_use(path):
        if not path:
            raise user_error("Make the file first (clean or generate); that file is what goes to Train.")
        gr.Info(f"The Train tab now uses {path}.")
        return path, "auto", "", "", None, None  # the upload box no longer names the file it replaced

    on_load, load_inputs, load_outputs = load
    outs = [ui[k] for k in ("source", "format", "columns", "system", "upload", "uploaded")]
    visibility = {"api_name": api_name} if api_name else {"api_visibility": "private"}
    used = button.click(on_use, path_state, outs, **visibility)
    used = used.success(on_load, load_inputs, load_outputs, api_visibility="private", show_progress_on=view["status"])
    view["events"].append(used)
