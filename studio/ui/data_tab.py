"""Data tab: open a dataset, see exactly what the model trains on, clean it, hand it to Train.

Load reads the file or Hub id, detects the format and shows the first rows, the exact training
text with the loss-carrying tokens in green, and a histogram of token lengths against the max
length. Clean runs the cleaning steps (studio.data.clean), saves a fingerprinted JSONL, shows
what each step removed, and "Use in Train" puts the cleaned file into the Train form. A load
that fails leaves the data already shown (and the one Clean works on) as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from studio.config import EMBEDDED_MODEL
from studio.schema import ConfigError, apply_overrides, typed_fields
from studio.services import FORMATS, CleanOptions, Studio, clean, default_output, length_figure, save

DEFAULT_DATASET = "assets/sample_sft.jsonl"
COLOR_MAP = {"trained": "#22c55e", "rejected": "#f87171"}
HELP = {f.name: f.metadata["help"] for f, _, _ in typed_fields(CleanOptions)}
NO_BOUND = " Empty or 0: no bound."


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "..."


def _table(rows: list[dict], limit: int = 20) -> dict:
    columns = list(dict.fromkeys(k for r in rows[:limit] for k in r))  # in the file's order
    return {"headers": columns, "data": [[_cell(r.get(c, "")) for c in columns] for r in rows[:limit]]}


def _highlight(example: dict) -> list[tuple[str, str | None]]:
    """Loss-carrying pieces green; a preference pair's rejected answer follows in red."""
    out = [(piece, "trained" if trained else None) for piece, trained in example["segments"]]
    if example.get("rejected"):
        out.append(("\n⟶ rejected answer (trained against), after the same prompt:\n", None))
        out += [(piece, "rejected" if trained else None) for piece, trained in example["rejected"]]
    return out


def _summary(data, shown) -> str:
    name = Path(data.source).name or data.source
    text = (
        f"`{name}`: **{shown.num_rows} rows**, format **{shown.format}** ({shown.kind}), "
        f"fingerprint `{shown.fingerprint}`. Columns: {', '.join(shown.columns)}. {shown.lengths.describe()}"
    )
    if shown.skipped:
        text += f"\n\n⚠ {len(data.skipped)} rows skipped: " + "; ".join(shown.skipped[:5])
    for note in shown.notes:
        text += f"\n\nNote: {note}"
    return text


def _report(result, files: dict) -> str:
    lines = ["| step | removed | modified |", "|---|---:|---:|"]
    lines += [f"| {s.name.replace('_', ' ')} | {s.removed} | {s.modified or ''} |" for s in result.steps]
    split = f"{len(result.train)} train" + (f" + {len(result.val)} validation" if result.val else "")
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


def _inputs() -> dict:
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(
                label="Upload a dataset (JSON, JSONL, CSV, Parquet)", file_types=[".json", ".jsonl", ".csv", ".parquet"]
            )
            source = gr.Textbox(
                value=DEFAULT_DATASET,
                label="or a path / Hub dataset id",
                info="A local file, or 'org/name' (optionally 'org/name:split') on the Hub; the Hub needs network.",
            )
        with gr.Column(scale=1):
            fmt = gr.Dropdown(
                ["auto", *FORMATS], value="auto", label="Format", info="auto detects it from the columns."
            )
            columns = gr.Textbox(
                label="Column mapping", info="For other names, e.g. instruction=question,output=answer"
            )
            system = gr.Textbox(
                label="System prompt", info="Added to rows without one (empty: the template's default)."
            )
        with gr.Column(scale=1):
            model = gr.Dropdown(
                [EMBEDDED_MODEL],
                value=EMBEDDED_MODEL,
                allow_custom_value=True,
                label="Model (chat template)",
                info="The template and tokenizer the preview and token counts use.",
            )
            max_length = gr.Number(
                value=512, precision=0, label="Max length", info="Tokens past this are cut (shown in the preview)."
            )
            load = gr.Button("Load and preview", variant="primary")
    return dict(
        upload=upload,
        source=source,
        format=fmt,
        columns=columns,
        system=system,
        model=model,
        max_length=max_length,
        load=load,
    )


def _clean_controls() -> dict:
    with gr.Accordion("Clean and split", open=True):
        with gr.Row():
            with gr.Column():
                special = gr.Radio(
                    ["drop", "strip", "keep"], value="drop", label="Chat-template tokens", info=HELP["special_tokens"]
                )
                drop_empty = gr.Checkbox(value=True, label="Drop empty answers", info=HELP["drop_empty"])
                exclude = gr.Textbox(
                    label="Exclude rows containing", lines=2, info=HELP["exclude"] + " One per line or comma."
                )
            with gr.Column():
                with gr.Row():
                    min_tokens = gr.Number(label="Min tokens", precision=0, info=HELP["min_tokens"] + NO_BOUND)
                    max_tokens = gr.Number(label="Max tokens", precision=0, info=HELP["max_tokens"] + NO_BOUND)
                with gr.Row():
                    min_chars = gr.Number(label="Min characters", precision=0, info=HELP["min_chars"] + NO_BOUND)
                    max_chars = gr.Number(label="Max characters", precision=0, info=HELP["max_chars"] + NO_BOUND)
            with gr.Column():
                dedup = gr.CheckboxGroup(["exact", "near"], value=["exact"], label="Duplicates", info=HELP["dedup"])
                threshold = gr.Slider(
                    0.3, 1.0, value=0.8, step=0.01, label="Near-duplicate threshold", info=HELP["near_threshold"]
                )
                with gr.Row():
                    val_fraction = gr.Slider(
                        0.0, 0.5, value=0.0, step=0.01, label="Validation share", info=HELP["val_fraction"]
                    )
                    seed = gr.Number(value=42, precision=0, label="Split seed", info=HELP["seed"])
        with gr.Row():
            run = gr.Button("Clean and save", variant="primary")
            use = gr.Button("Use cleaned data in Train", interactive=False)
        report = gr.Markdown(elem_id="clean-report")
        removed = gr.Dataframe(label="Examples of removed rows", wrap=True, max_height=320, interactive=False)
        files = gr.File(label="Cleaned files", file_count="multiple", interactive=False)
    options = [
        special,
        drop_empty,
        exclude,
        min_tokens,
        max_tokens,
        min_chars,
        max_chars,
        dedup,
        threshold,
        val_fraction,
        seed,
    ]
    return dict(options=options, run=run, use=use, report=report, removed=removed, files=files)


def read_options(
    special, drop_empty, exclude, min_tokens, max_tokens, min_chars, max_chars, dedup, threshold, val_fraction, seed
) -> CleanOptions:
    """The form's values as CleanOptions (checked; ConfigError names the field)."""
    words = [w.strip() for line in (exclude or "").splitlines() for w in line.split(",") if w.strip()]
    options = CleanOptions()
    bounds = dict(min_tokens=min_tokens, max_tokens=max_tokens, min_chars=min_chars, max_chars=max_chars)
    apply_overrides(
        options,
        {name: value or None for name, value in bounds.items()}
        | dict(special_tokens=special, drop_empty=drop_empty, near_threshold=threshold, val_fraction=val_fraction),
    )
    options.seed = int(seed or 0)
    options.exclude, options.dedup = words, list(dedup or [])
    options.check()
    return options


def _preview_view() -> dict:
    # Progress and errors show on this line only, so a failed load leaves the data shown in view.
    status = gr.Markdown(elem_id="data-status")
    summary = gr.Markdown(elem_id="data-summary")
    with gr.Row():
        table = gr.Dataframe(label="First rows", wrap=True, max_height=320, interactive=False, scale=3)
        lengths = gr.Plot(label="Token lengths", scale=2)
    example_index = gr.Slider(1, 5, value=1, step=1, label="Example", info="Which of the first examples to show.")
    rendered = gr.HighlightedText(
        label="Exact training text under the chat template (green: tokens that carry loss; red: a rejected answer)",
        color_map=COLOR_MAP,
        show_legend=True,
        combine_adjacent=True,
        elem_id="training-text",
    )
    examples = gr.State([])
    loaded = gr.State(None)  # what the shown data was loaded from; Clean works on it
    return dict(status=status, summary=summary, table=table, lengths=lengths, example_index=example_index,
                rendered=rendered, examples=examples, loaded=loaded)  # fmt: skip


def _wire_load(studio: Studio, ui: dict, view: dict):
    """Load and preview (also after an upload); returns the handler with its inputs and outputs."""

    def on_load(source_value, fmt_value, columns_value, system_value, model_value, max_len):
        try:
            data = studio.load_data(source_value, fmt_value, columns_value, system_value)
            shown = studio.preview(data, model_value, int(max_len) if max_len else None)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        if data.skipped:
            gr.Warning(f"{len(data.skipped)} rows cannot be used and are skipped; the summary lists them.")
        examples = [
            {"row": e.row, "segments": e.segments, "rejected": e.rejected, "tokens": e.tokens} for e in shown.examples
        ]
        first = _highlight(examples[0]) if examples else []
        params = dict(source=source_value, format=fmt_value, columns=columns_value, system=system_value)
        figure = length_figure(shown.lengths, f"Token lengths under {model_value}'s chat template")
        slider = gr.update(maximum=max(1, len(examples)), value=1)
        return _summary(data, shown), _table(data.raw_rows), slider, first, examples, figure, params, ""

    def on_upload(file):
        return file if isinstance(file, str) else getattr(file, "name", "") if file else gr.update()

    def on_pick(index, examples):
        return _highlight(examples[min(int(index), len(examples)) - 1]) if examples else []

    inputs = [ui["source"], ui["format"], ui["columns"], ui["system"], ui["model"], ui["max_length"]]
    outputs = [view[k] for k in ("summary", "table", "example_index", "rendered", "examples", "lengths", "loaded")]
    outputs.append(view["status"])
    ui["upload"].upload(on_upload, ui["upload"], ui["source"]).then(
        on_load, inputs, outputs, api_visibility="private", show_progress_on=view["status"]
    )
    ui["load"].click(on_load, inputs, outputs, api_name="load_data", show_progress_on=view["status"])
    view["example_index"].change(
        on_pick, [view["example_index"], view["examples"]], view["rendered"], api_visibility="private"
    )
    return on_load, inputs, outputs


def _wire_clean(studio: Studio, ui: dict, view: dict, cleaning: dict, load) -> None:
    """Clean the loaded data and save it; "Use in Train" puts the cleaned file in the source (and Train)."""
    cleaned = gr.State("")

    def on_clean(params, model_value, *values):
        if not params:
            raise gr.Error("Load a dataset first (Load and preview), then clean it.")
        try:
            options = read_options(*values)
            data = studio.load_data(params["source"], params["format"], params["columns"], params["system"])
            result = clean(data, options, studio.tokenizer(model_value))
            files = save(result, default_output(params["source"], result.fingerprint))
        except ConfigError as exc:
            raise gr.Error("; ".join(str(p) for p in exc.problems)) from exc
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        ready = gr.update(interactive=True)
        return _report(result, files), _removed_table(result), _downloads(files), ready, files["train"]

    def on_use(path):
        if not path:
            raise gr.Error("Clean a dataset first; its cleaned file is what goes to Train.")
        gr.Info(f"The Train tab now uses {path}.")
        return path, "auto", "", ""

    outputs = [cleaning["report"], cleaning["removed"], cleaning["files"], cleaning["use"], cleaned]
    inputs = [view["loaded"], ui["model"], *cleaning["options"]]
    cleaning["run"].click(on_clean, inputs, outputs, api_name="clean_data")
    on_load, load_inputs, load_outputs = load
    cleaning["use"].click(
        on_use, cleaned, [ui["source"], ui["format"], ui["columns"], ui["system"]], api_name="use_cleaned"
    ).then(on_load, load_inputs, load_outputs, api_visibility="private", show_progress_on=view["status"])


def build(studio: Studio) -> dict:
    ui = _inputs()
    view = _preview_view()
    cleaning = _clean_controls()
    load = _wire_load(studio, ui, view)
    _wire_clean(studio, ui, view, cleaning, load)
    # The Train tab copies these into its form on change, so what is previewed is what trains.
    return {k: ui[k] for k in ("source", "format", "columns", "system", "model")}
