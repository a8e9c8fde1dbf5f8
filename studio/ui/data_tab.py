"""Data tab: open a dataset, see exactly what the model trains on, clean it, hand it to Train.

Load reads the file or Hub id, detects the format and shows the first rows, the exact training
text with the loss-carrying tokens in green, and a histogram of token lengths against the max
length. Clean runs the cleaning steps (studio.data.clean), saves a fingerprinted JSONL, shows
what each step removed, and "Use in Train" puts the cleaned file into the Train form. A load
that fails leaves the data already shown (and the one Clean works on) as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from studio.config import EMBEDDED_MODEL, FORMAT_CHOICES, DataConfig, TrainConfig
from studio.services import (
    PREVIEW_ROWS,
    Studio,
    length_figure,
    placeholder_figure,
)
from studio.ui import clean_panel, generate_panel, score_panel
from studio.ui.clean_panel import plain as _plain
from studio.ui.errors import card
from studio.ui.space import user_of

DEFAULT_DATASET = DataConfig().dataset
COLOR_MAP = {"trained": "#22c55e", "rejected": "#f87171"}
UPLOADED = " (uploaded)"  # after an upload the source box shows the file's own name, not Gradio's hashed folder
# Gradio's highlighted text breaks lines anywhere (word-break: break-all), even inside a word.
TEXT_CSS = "<style>#training-text .textfield { word-break: normal; overflow-wrap: anywhere; }</style>"


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "..."


def _table(rows: list[dict], limit: int = 20) -> gr.Dataframe:
    """The first rows, every column in view: half the width shared equally (an empty column stays
    readable), half by the columns' text lengths (a long answer gets the room)."""
    columns = list(dict.fromkeys(k for r in rows[:limit] for k in r))  # in the file's order
    data = [[_cell(r.get(c, "")) for c in columns] for r in rows[:limit]]
    lengths = [1 + sum(len(row[i]) for row in data) for i in range(len(columns))]
    widths = [f"{50 / len(columns) + 50 * n / sum(lengths):.1f}%" for n in lengths] if columns else None
    return gr.Dataframe(value=data, headers=columns, column_widths=widths)


def _rendered(example: dict | None) -> dict:
    """The highlighted text with a legend of what it holds: "rejected" only for a preference pair."""
    if not example:
        return gr.update(value=[], color_map={"trained": COLOR_MAP["trained"]})
    shown = {"trained", "rejected"} if example.get("rejected") else {"trained"}
    return gr.update(value=_highlight(example), color_map={k: v for k, v in COLOR_MAP.items() if k in shown})


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
        f"{_plain(name)}: **{shown.num_rows} rows**, format **{shown.format}** ({shown.kind}), "
        f"fingerprint `{shown.fingerprint}`. Columns: {_plain(', '.join(shown.columns))}. {shown.lengths.describe()}"
    )
    if shown.skipped:
        text += f"\n\n⚠ {len(data.skipped)} rows skipped: " + _plain("; ".join(shown.skipped[:5]))
    for note in shown.notes:
        text += f"\n\nNote: {_plain(note)}"
    return text


def _inputs() -> dict:
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(
                label="Upload a dataset (JSON, JSONL, CSV, Parquet)",
                file_types=[".json", ".jsonl", ".csv", ".parquet"],
                elem_id="data-upload",
            )
            source = gr.Textbox(
                value=DEFAULT_DATASET,
                label="or a path / Hub dataset id",
                info="A local file, or 'org/name' (optionally 'org/name:split') on the Hub; the Hub needs network.",
            )
        with gr.Column(scale=1):
            fmt = gr.Dropdown(FORMAT_CHOICES, value="auto", label="Format", info="auto detects it from the columns.")
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
                value=TrainConfig().max_length,
                precision=0,
                label="Max length",
                info="Tokens past this are cut (shown in the preview).",
            )
            load = gr.Button("Load and preview", variant="primary")
    uploaded = gr.State(None)  # the last upload: {"shown": its name in the source box, "path": Gradio's copy}
    return dict(
        uploaded=uploaded,
        upload=upload,
        source=source,
        format=fmt,
        columns=columns,
        system=system,
        model=model,
        max_length=max_length,
        load=load,
    )


def _preview_view() -> dict:
    # Progress and errors show on this line only, so a failed load leaves the data shown in view.
    status = gr.HTML(elem_id="data-status")
    summary = gr.Markdown(elem_id="data-summary")
    with gr.Row():
        table = gr.Dataframe(
            headers=["the first rows of the file appear here after Load and preview"],
            label="First rows",
            wrap=True,
            max_height=320,
            interactive=False,
            scale=3,
        )
        lengths = gr.Plot(
            placeholder_figure("The histogram of token lengths appears here."), label="Token lengths", scale=2
        )
    example_index = gr.Slider(1, PREVIEW_ROWS, value=1, step=1, label="Example", info="Which row to show.")
    gr.HTML(head=TEXT_CSS)
    rendered = gr.HighlightedText(
        label="Exact training text under the chat template (green: tokens that carry loss; red: a rejected answer)",
        color_map={"trained": COLOR_MAP["trained"]},
        show_legend=True,
        combine_adjacent=True,
        elem_id="training-text",
    )
    examples = gr.State([])
    loaded = gr.State(None)  # what the shown data was loaded from; Clean works on it
    handoff = gr.State(None)  # the same after a successful load, None after a failed one: what Train takes
    return dict(status=status, summary=summary, table=table, lengths=lengths, example_index=example_index,
                rendered=rendered, examples=examples, loaded=loaded, handoff=handoff)  # fmt: skip


def _wire_load(studio: Studio, ui: dict, view: dict):
    """Load and preview (also after an upload); returns the handler with its inputs and outputs."""

    def on_load(
        source_value,
        fmt_value,
        columns_value,
        system_value,
        model_value,
        max_len,
        uploaded=None,
        request: gr.Request = None,
    ):
        """``uploaded``: the last upload ({"shown", "path"}), read when the source box still shows its name."""
        user = user_of(request)  # another person's run files read as missing ones
        if uploaded and (source_value or "").strip() == uploaded["shown"]:
            source_value = uploaded["path"]
        try:
            data = studio.load_data(source_value, fmt_value, columns_value, system_value, user)
            shown = studio.preview(data, model_value, int(max_len) if max_len else None, n=PREVIEW_ROWS, user=user)
        except ValueError as exc:  # a card on the status line; the data shown and handed on stay as they were
            return (*[gr.skip()] * 7, card(str(exc), elem_id="data-refused"), None)
        if data.skipped:
            gr.Warning(f"{len(data.skipped)} rows cannot be used and are skipped; the summary lists them.")
        examples = [
            {"row": e.row, "segments": e.segments, "rejected": e.rejected, "tokens": e.tokens} for e in shown.examples
        ]
        first = _rendered(examples[0] if examples else None)
        params = dict(source=source_value, format=fmt_value, columns=columns_value, system=system_value)
        figure = length_figure(shown.lengths, f"Token lengths under {model_value}'s chat template")
        return _summary(data, shown), _table(data.raw_rows), _slider(len(examples), shown.num_rows), first, \
            examples, figure, params, "", params  # fmt: skip

    def on_upload(file):
        """The source box shows the file's own name; the path in Gradio's hashed folder is remembered."""
        path = file if isinstance(file, str) else getattr(file, "name", "") if file else ""
        if not path:
            return gr.skip(), gr.skip()
        shown = Path(path).name + UPLOADED
        return shown, {"shown": shown, "path": path}

    def on_pick(index, examples):
        return _rendered(examples[min(int(index), len(examples)) - 1] if examples else None)

    inputs = [ui["source"], ui["format"], ui["columns"], ui["system"], ui["model"], ui["max_length"], ui["uploaded"]]
    outputs = [view[k] for k in ("summary", "table", "example_index", "rendered", "examples", "lengths", "loaded")]
    outputs += [view["status"], view["handoff"]]
    uploaded = (
        ui["upload"]
        .upload(on_upload, ui["upload"], [ui["source"], ui["uploaded"]])
        .then(on_load, inputs, outputs, api_visibility="private", show_progress_on=view["status"])
    )
    # A path typed over an upload's name replaces the upload: the upload box lets it go too.
    ui["source"].input(lambda: (None, None), None, [ui["upload"], ui["uploaded"]], api_visibility="private")
    loaded = ui["load"].click(on_load, inputs, outputs, api_name="load_data", show_progress_on=view["status"])
    view["events"] = [uploaded, loaded]  # a success hands the data to the Train form
    view["example_index"].change(
        on_pick, [view["example_index"], view["examples"]], view["rendered"], api_visibility="private"
    )
    return on_load, inputs, outputs


def _slider(examples: int, rows: int) -> dict:
    """The Example slider over the rendered rows; a slider needs minimum < maximum: with one row it
    stays at 1, not interactive."""
    scope = f"one of the first {examples} of {rows} rows" if examples < rows else f"one of the {rows} rows"
    return gr.update(maximum=max(2, examples), value=1, interactive=examples > 1, info=f"Which row to show: {scope}.")


def build(studio: Studio) -> dict:
    ui = _inputs()
    view = _preview_view()
    cleaning = clean_panel.controls()
    load = _wire_load(studio, ui, view)
    clean_panel.wire(studio, ui, view, cleaning, load)
    generate_panel.build(
        studio, view["loaded"], lambda button, state: clean_panel.wire_use(ui, view, load, button, state)
    )
    score_panel.build(studio, view["loaded"], ui["model"], cleaning["form"])  # scorers, then the same clean path
    # The Train tab takes the loaded data's parameters after each successful load (loaded_events);
    # "preview" loads the sample when the page opens, the newcomer's first step (not handed on).
    on_load, inputs, outputs = load
    return {
        **{k: ui[k] for k in ("source", "format", "columns", "system", "model")},
        "loaded": view["handoff"],
        "loaded_events": view["events"],
        "preview": (on_load, inputs, outputs),
    }
