"""The Data tab's scorers: an LLM judge rates each loaded row's answer (1-10), or a reward model
trained in the studio scores it; the histogram shows where to cut, and a threshold keeps the rows
at or above it through the same clean path as "Clean and save" (its options, its report).

Scores are held for the page (a list of numbers); the cleaned file, its report and a scores file
beside it are written where "Clean and save" writes.
"""

from __future__ import annotations

import gradio as gr

from studio.schema import ConfigError, apply_overrides
from studio.services import CleanOptions, ScoreOptions, Studio, placeholder_figure
from studio.ui.errors import card
from studio.ui.forms import Form
from studio.ui.space import user_of

SCORER_INFO = (
    "A judge (a model id or folder, a .gguf file, an http(s):// URL of an OpenAI-compatible server, "
    "its key from OPENAI_API_KEY), or the id of a reward-model run trained here."
)
EMPTY_TABLE = {"headers": ["row", "score", "judge's reason / why no score", "row text"], "data": []}


def build(studio: Studio, loaded: gr.State, model: gr.components.Component, clean_form: Form) -> None:
    """The section, inside the current layout: ``loaded`` holds what the shown data was loaded
    from; ``clean_form`` is the tab's cleaning options, applied after the threshold."""
    form = Form()
    with gr.Accordion("Score rows with a judge or a reward model, keep those above a threshold", open=False):
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                scorer = gr.Textbox(label="Scorer", info=SCORER_INFO, elem_id="score-scorer")
                form.add(ScoreOptions())
                start = gr.Button("Score rows", variant="primary")
                threshold = gr.Number(label="Threshold", info="Rows scored below it are dropped.", elem_id="score-cut")
                keep = gr.Button("Clean, keeping rows at or above the threshold", interactive=False)
                note = gr.HTML(elem_id="score-note")
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="score-status")
                chart = gr.Plot(placeholder_figure("The scores' histogram appears here."), label="Scores")
                table = gr.Dataframe(
                    EMPTY_TABLE,
                    label="Rows, lowest score first",
                    wrap=True,
                    interactive=False,
                    max_height=360,
                    column_widths=["8%", "8%", "34%", "50%"],
                    elem_id="score-table",
                )
                report = gr.Markdown(elem_id="score-report")
                files = gr.File(label="Cleaned files and scores", file_count="multiple", interactive=False)
    scored = gr.State(None)
    actions = ScoreActions(studio, form, clean_form)
    start.click(
        actions.score,
        [loaded, scorer, *form.inputs],
        [scored, status, chart, table, threshold, keep, note],
        concurrency_id="model",
        api_name="score_rows",
    )
    threshold.change(actions.redraw, [loaded, scored, threshold], [chart, table], api_name=False)
    keep.click(
        actions.clean,
        [loaded, scored, threshold, model, *form.inputs, *clean_form.inputs],
        [report, files, note],
        api_name="clean_scored",
    )


class ScoreActions:
    def __init__(self, studio: Studio, form: Form, clean_form: Form):
        self.studio, self.form, self.clean_form = studio, form, clean_form

    def score(self, request: gr.Request, params, scorer, *values, progress=gr.Progress()):
        refused = [gr.skip()] * 6
        if not params:
            return *refused, card("Load a dataset first (Load and preview), then score it.")
        user = user_of(request)
        try:
            options = ScoreOptions(**self.form.values(values))
            scored = self.studio.score_data(params, scorer, options, lambda f, m: progress(f, desc=m), user)
            numbers = sorted(s for s in scored["scores"] if s is not None)
            cut = numbers[len(numbers) // 2] if numbers else None  # the median, to start from
            view = self.studio.score_view(params, scored, cut, user)
        except ValueError as exc:
            return *refused, card(str(exc))
        status = f"**{scored['scorer']}** ({scored['kind']}): {scored['scored']} rows scored, {scored['no_score']} without a score."
        warning = (
            card(f"Scoring stopped: {scored['stopped']}. The scores before it are kept.", "warning")
            if scored["stopped"]
            else ""
        )
        ready = gr.update(interactive=bool(numbers))
        return scored, status, view["figure"], view["table"], cut, ready, warning

    def redraw(self, params, scored, threshold, request: gr.Request):
        if not params or not scored:
            return gr.skip(), gr.skip()
        try:
            view = self.studio.score_view(params, scored, threshold, user_of(request))
        except ValueError:
            return gr.skip(), gr.skip()
        return view["figure"], view["table"]

    def clean(self, request: gr.Request, params, scored, threshold, model, *values):
        refused = [gr.skip()] * 2
        if not params or not scored:
            return *refused, card("Score the loaded rows first.")
        if threshold is None:
            return *refused, card("Threshold: give the lowest score to keep.")
        mine = len(self.form.inputs)
        try:
            unscored = ScoreOptions(**self.form.values(values[:mine])).unscored
            options = CleanOptions()
            apply_overrides(options, self.clean_form.values(values[mine:]))
            options.check()
            out = self.studio.clean_scored(params, scored, float(threshold), unscored, options, model, user_of(request))
        except ConfigError as exc:
            return *refused, card([str(p) for p in exc.problems])
        except ValueError as exc:
            return *refused, card(str(exc))
        removed = ", ".join(f"{name} {n}" for name, n in out["removed"].items() if n) or "nothing"
        text = (
            f"Kept **{out['kept']} of {out['input_rows']}** rows (threshold {float(threshold):g}); removed: {removed}. "
            f"Saved to `{out['files']['train']}` with its report; the scores in `{out['files']['scores']}`."
        )
        return text, list(out["files"].values()), ""
