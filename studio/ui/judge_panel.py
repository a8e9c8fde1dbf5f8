"""The Evaluate tab's Judges section: LLM judges compare base and adapter on held-out prompts, each
pair in both orders; a jury votes; the same judges decide the chat arena's people's votes, to
show how often they agree with people against the guides' 80%. Every verdict can be browsed.

The same judging runs headless: ``python -m studio eval --run runs/<id> --judge URL --json``.
Verdicts are saved into the run (judge.json, judgements.jsonl), so picking a judged run shows them.
"""

from __future__ import annotations

import gradio as gr

from studio.services import VERDICT_HEADERS, JudgeOptions, Studio, placeholder_figure
from studio.ui.errors import card
from studio.ui.forms import Form
from studio.ui.space import user_of

JUDGES_INFO = (
    "One per line: a model id or folder, a run id (its adapter), a .gguf file (llama.cpp), or the "
    "http(s):// base URL of an OpenAI-compatible server (?model=NAME; its key from OPENAI_API_KEY "
    "where the studio runs, never stored). Several judges form a jury that votes by majority."
)
EMPTY_RESULTS = {"headers": ["judge", "wins", "ties", "losses", "no verdict", "win rate (95% CI)"], "data": []}
EMPTY_PEOPLE = {"headers": ["judge", "votes decided", "agreement (95% CI)", "Cohen's kappa"], "data": []}
EMPTY_VERDICTS = {"headers": list(VERDICT_HEADERS), "data": []}
# #, judge, question, answer 1, answer 2, order 1, order 2, verdict, rationale
VERDICT_WIDTHS = ["3%", "12%", "15%", "15%", "15%", "9%", "9%", "6%", "16%"]
EMPTY_CHART = "Wins, ties and losses per judge appear here after a judging."


def build(studio: Studio, run: gr.Dropdown) -> None:
    """The section, inside the current layout; ``run`` is the tab's run picker."""
    form = Form()
    with gr.Accordion("LLM judges: base vs adapter, each pair judged in both orders", open=False):
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                judges = gr.Textbox(label="Judges", lines=3, info=JUDGES_INFO, elem_id="judge-specs")
                versus = gr.Textbox(
                    label="Versus (optional)",
                    info="Another run id on the same base, to judge against instead of the base.",
                )
                form.add(JudgeOptions())
                start = gr.Button("Judge", variant="primary")
                note = gr.HTML(elem_id="judge-note")
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="judge-status")
                results = gr.Dataframe(
                    EMPTY_RESULTS, label="Win / tie / loss", interactive=False, elem_id="judge-results"
                )
                chart = gr.Plot(placeholder_figure(EMPTY_CHART), label="Judged pairs")
                people_note = gr.Markdown(elem_id="judge-people-note")
                people = gr.Dataframe(
                    EMPTY_PEOPLE, label="Agreement with people's arena votes", interactive=False, elem_id="judge-people"
                )
        verdicts = gr.Dataframe(
            EMPTY_VERDICTS,
            label="Every verdict, with the judge's rationale",
            wrap=True,
            interactive=False,
            max_height=480,
            column_widths=VERDICT_WIDTHS,
            elem_id="judge-verdicts",
        )
        with gr.Accordion("People's votes, as the judges decided them", open=False):
            people_verdicts = gr.Dataframe(
                EMPTY_VERDICTS, wrap=True, interactive=False, max_height=480, column_widths=VERDICT_WIDTHS
            )
        files = gr.File(label="Download (judge.json, judgements.jsonl)", file_count="multiple", interactive=False)
    shown = [status, results, chart, people_note, people, verdicts, people_verdicts, files]
    actions = JudgeActions(studio, form)
    run.change(actions.show, run, shown, api_name=False)
    start.click(
        actions.judge, [run, judges, versus, *form.inputs], [*shown, note], concurrency_id="model", api_name="judge"
    )


class JudgeActions:
    def __init__(self, studio: Studio, form: Form):
        self.studio, self.form = studio, form

    def show(self, run_id, request: gr.Request):
        """The run's last judging, or empty tables saying what will appear."""
        view = self.studio.judge_view(run_id, user_of(request)) if run_id else None
        if not view:
            status = f"Run {run_id} has not been judged yet." if run_id else ""
            return (
                status,
                EMPTY_RESULTS,
                placeholder_figure(EMPTY_CHART),
                "",
                EMPTY_PEOPLE,
                EMPTY_VERDICTS,
                EMPTY_VERDICTS,
                None,
            )
        return _shown(view)

    def judge(self, request: gr.Request, run_id, judges, versus, *values, progress=gr.Progress()):
        """Judge the run; a refusal is a card and the results shown stay; a judge that failed
        half-way shows what it finished and where it stopped."""
        refused = [gr.skip()] * 8
        if not run_id:
            return *refused, card("Run: pick one first (one with a saved adapter).")
        specs = [line.strip() for line in (judges or "").splitlines() if line.strip()]
        user = user_of(request)
        try:
            options = JudgeOptions(**self.form.values(values))
            summary = self.studio.judge(
                run_id,
                specs,
                options,
                versus=(versus or "").strip() or None,
                progress=lambda f, m: progress(f, desc=m),
                user=user,
            )
            view = self.studio.judge_view(run_id, user)
        except ValueError as exc:
            return *refused, card(str(exc))
        stopped = summary.get("stopped")
        warning = card(f"Judging stopped: {stopped}. The verdicts before it are kept.", "warning") if stopped else ""
        return *_shown(view), warning


def _shown(view: dict) -> tuple:
    s = view["summary"]
    status = (
        f"**{s['sides'][1]}** vs **{s['sides'][0]}**: {s['prompts']} held-out prompts, each judged in both orders "
        f"by {len(s['judges'])} judge(s), {s.get('seconds', '?')} s. Answer 1 is {s['sides'][0]}'s, answer 2 "
        f"{s['sides'][1]}'s; wins and losses are answer 2's. A verdict that flips when the order is swapped "
        "counts as a tie; the position bias is the share of pairs whose verdict flipped."
    )
    if s.get("stopped"):
        status += f"\n\n⚠ Stopped: {s['stopped']}"
    return (
        status,
        view["results"],
        view["figure"],
        view["people_note"],
        view["people"] if view["people"]["data"] else EMPTY_PEOPLE,
        view["verdicts"] if view["verdicts"]["data"] else EMPTY_VERDICTS,
        view["people_verdicts"] if view["people_verdicts"]["data"] else EMPTY_VERDICTS,
        view["files"] or None,
    )
