"""The Data tab's "Generate data with a model" section: new rows from a teacher, and preference pairs
scored by judges or a reward-model run (studio.generate, through studio.services).

Both read the dataset shown above (its source) as seeds or prompts, show progress, stop after the
current row on Stop, and keep what was made. "Use in Train" loads the generated file like a
cleaned one, so the Train form and the method guide take it from there (pairs suggest DPO).
"""

from __future__ import annotations

import gradio as gr

from studio.config import EMBEDDED_MODEL
from studio.schema import ConfigError, apply_overrides
from studio.services import GenerateOptions, PairOptions, Studio, margin_figure, placeholder_figure
from studio.ui.errors import card, user_error
from studio.ui.forms import Form
from studio.ui.space import user_of

BACKEND_HELP = (
    "A model id or folder (e.g. smollm2), a run's adapter folder, a .gguf file, or an http(s):// URL of an "
    "OpenAI-compatible server (its key from OPENAI_API_KEY on the server)."
)


def _form(options) -> Form:
    form = Form()
    with gr.Row():
        form.add(options)
    return form


def _rows_controls() -> dict:
    with gr.Tab("New rows from a teacher"):
        teacher = gr.Textbox(EMBEDDED_MODEL, label="Teacher", info=BACKEND_HELP)
        form = _form(GenerateOptions())
        with gr.Row():
            run = gr.Button("Generate rows", variant="primary")
            stop = gr.Button("Stop")
            use = gr.Button("Use generated rows in Train", interactive=False)
        report = gr.Markdown()
        table = gr.Dataframe(
            headers=["instruction", "output", "teacher", "seed rows"], wrap=True, max_height=320, interactive=False
        )
    return dict(teacher=teacher, form=form, run=run, stop=stop, use=use, report=report, table=table)


def _pairs_controls() -> dict:
    with gr.Tab("Preference pairs from AI feedback"):
        with gr.Row():
            sampler = gr.Textbox(EMBEDDED_MODEL, label="Sample answers from", info=BACKEND_HELP)
            judges = gr.Textbox(EMBEDDED_MODEL, label="Judges (one per line: a jury)", lines=2, info=BACKEND_HELP)
            reward_run = gr.Textbox("", label="Or score with a reward-model run (its id)")
        form = _form(PairOptions())
        with gr.Row():
            run = gr.Button("Make pairs", variant="primary")
            stop = gr.Button("Stop")
            use = gr.Button("Use pairs in Train", interactive=False)
        report = gr.Markdown()
        margins = gr.Plot(placeholder_figure("The margins (best minus worst score) appear here."), label="Margins")
        table = gr.Dataframe(
            headers=["prompt", "chosen", "rejected", "scores", "margin"], wrap=True, max_height=320, interactive=False
        )
    return dict(sampler=sampler, judges=judges, reward_run=reward_run, form=form, run=run, stop=stop, use=use,
                report=report, margins=margins, table=table)  # fmt: skip


def _options(form: Form, cls, values):
    options = cls()
    apply_overrides(options, form.values(values))
    return options


def _wire_rows(studio: Studio, rows: dict, loaded, produced) -> None:
    def on_generate(request: gr.Request, params, teacher, *values, progress=gr.Progress()):
        if not params:
            raise user_error("Load a dataset first: its rows are the seeds the teacher imitates.")
        user = user_of(request)
        try:
            options = _options(rows["form"], GenerateOptions, values)
            result, path = studio.generate_rows(
                params["source"], teacher, options, user, lambda d, t, m: progress((d, t), desc=m)
            )
        except (ConfigError, ValueError) as exc:
            return card(str(exc)), gr.skip(), gr.skip(), gr.skip()
        r = result.report()
        text = f"**Kept {r['kept']} of {r['asked']} generated rows**; removed {r['removed'] or 'none'}; "
        text += f"{r['unparsed']} replies were not an instruction." + (f"\n\n⚠ {r['error']}" if r["error"] else "")
        text += f"\n\nSaved to `{path}`." if path else ""
        data = [[x["instruction"], x["output"], x["teacher"], str(x["seed_rows"])] for x in result.rows]
        return (
            text,
            {"headers": ["instruction", "output", "teacher", "seed rows"], "data": data},
            path,
            gr.update(interactive=bool(path)),
        )

    rows["run"].click(
        on_generate,
        [loaded, rows["teacher"], *rows["form"].inputs],
        [rows["report"], rows["table"], produced, rows["use"]],
        api_name="generate_rows",
        concurrency_id="model",
    )
    rows["stop"].click(_stopper(studio), None, None, api_visibility="private")


def _wire_pairs(studio: Studio, pairs: dict, loaded, produced) -> None:
    def on_pairs(request: gr.Request, params, sampler, judges, reward_run, *values, progress=gr.Progress()):
        if not params:
            raise user_error("Load a dataset first: its prompts are what the answers are sampled for.")
        user = user_of(request)
        try:
            options = _options(pairs["form"], PairOptions, values)
            result, files = studio.preference_pairs(
                params["source"], sampler, judges.splitlines(), reward_run.strip(), options, user,
                lambda d, t, m: progress((d, t), desc=m),
            )  # fmt: skip
        except (ConfigError, ValueError) as exc:
            return card(str(exc)), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        r = result.report()
        text = f"**{r['pairs']} pairs from {r['prompts']} prompts**; {r['below_margin']} below the margin, "
        text += f"{r['unscored_answers']} answers unscored." + (f"\n\n⚠ {r['error']}" if r["error"] else "")
        text += f"\n\nSaved to `{files['pairs']}` (KTO rows: `{files['kto']}`)." if files else ""
        data = [
            [p["prompt"][-1]["content"], p["chosen"], p["rejected"], str(p["scores"]), round(p["margin"], 2)]
            for p in result.pairs
        ]
        table = {"headers": ["prompt", "chosen", "rejected", "scores", "margin"], "data": data}
        figure = margin_figure(result.margins, options.min_margin)
        return text, figure, table, files.get("pairs", ""), gr.update(interactive=bool(files))

    pairs["run"].click(
        on_pairs,
        [loaded, pairs["sampler"], pairs["judges"], pairs["reward_run"], *pairs["form"].inputs],
        [pairs["report"], pairs["margins"], pairs["table"], produced, pairs["use"]],
        api_name="preference_pairs",
        concurrency_id="model",
    )
    pairs["stop"].click(_stopper(studio), None, None, api_visibility="private")


def _stopper(studio: Studio):
    def on_stop(request: gr.Request):
        studio.stop_generating(user_of(request))
        gr.Info("Stopping after the current row; what was made is kept.")

    return on_stop


def build(studio: Studio, loaded, use_file) -> None:
    """The section, under the cleaning one; ``loaded`` holds the shown data's parameters and
    ``use_file(button, state)`` wires a "Use in Train" button to load the file in ``state``."""
    with gr.Accordion("Generate data with a model", open=False):
        rows = _rows_controls()
        pairs = _pairs_controls()
    rows_file, pairs_file = gr.State(""), gr.State("")
    _wire_rows(studio, rows, loaded, rows_file)
    _wire_pairs(studio, pairs, loaded, pairs_file)
    use_file(rows["use"], rows_file)
    use_file(pairs["use"], pairs_file)
