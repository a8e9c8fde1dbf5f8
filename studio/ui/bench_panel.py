"""The Evaluate tab's Benchmarks section: base vs adapter on lm-evaluation-harness tasks.

The same runs headless: ``python -m studio eval --run runs/<id> --bench studio_facts --limit 20``.
A benchmark runs in the background; a timer polls its snapshot (progress, ETA) and turns itself
off when it ends, so a reloaded page re-attaches. Results are saved in the run (benchmarks.json):
picking a run shows its table and chart again.
"""

from __future__ import annotations

import gradio as gr

from studio.services import Studio, duration
from studio.services.benchmarks import BenchOptions, BenchSnapshot, bench_figure, bench_table
from studio.ui.errors import card
from studio.ui.forms import Form
from studio.ui.space import user_of

FIELDS = ["limit", "batch_size", "chat_template"]
FINAL = "final"  # the Evaluate tab's value for the run's final adapter


def build(studio: Studio, run: gr.Dropdown, adapter: gr.Dropdown) -> dict:
    """The section, wired to the tab's run and adapter pickers."""
    form = Form()
    ui = _layout(studio, form)
    actions = BenchActions(studio, form)
    outputs = [ui["status"], ui["table"], ui["chart"], ui["timer"]]
    ui["start"].click(
        actions.start,
        [run, adapter, ui["tasks"], *form.inputs],
        [ui["status"], ui["timer"], ui["note"]],
        api_name="bench_start",
    )
    ui["stop"].click(actions.stop, None, ui["note"], api_name="bench_stop")
    ui["timer"].tick(actions.poll, run, outputs, api_name="bench_poll", show_progress="hidden")
    run.change(actions.show, run, outputs[:3], api_name=False)
    return ui


def _layout(studio: Studio, form: Form) -> dict:
    ui: dict = {}
    with gr.Accordion("Benchmarks: base vs adapter on standard tasks (lm-evaluation-harness)", open=True):
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                choices = [(f"{t.name} ({'offline' if t.offline else 'Hub'})", t.name) for t in studio.bench_tasks()]
                ui["tasks"] = gr.Dropdown(
                    choices,
                    value=BenchOptions().tasks,
                    multiselect=True,
                    allow_custom_value=True,
                    label="Tasks",
                    info="Offline tasks run anywhere; the others fetch their data from the Hub. Any task name of "
                    "the harness may be typed.",
                    elem_id="bench-tasks",
                )
                form.add(BenchOptions(), FIELDS)
                with gr.Row():
                    ui["start"] = gr.Button("Start benchmarks", variant="primary", elem_id="bench-start")
                    ui["stop"] = gr.Button("Stop", variant="stop", elem_id="bench-stop")
                ui["note"] = gr.HTML(elem_id="bench-note")
                ui["status"] = gr.Markdown(elem_id="bench-status")
            with gr.Column(scale=2):
                ui["table"] = gr.Dataframe(
                    bench_table(None),
                    label="Benchmarks: base vs adapter",
                    interactive=False,
                    wrap=True,
                    column_widths=["17%", "21%", "6%", "17%", "17%", "12%", "10%"],
                    elem_id="bench-table",
                )
                ui["chart"] = gr.Plot(bench_figure(None), label="Benchmark scores", elem_id="bench-chart")
    ui["timer"] = gr.Timer(1.0, active=True)  # on at page load: re-attach to a benchmark under way
    return ui


class BenchActions:
    """The section's handlers: each calls one service and shapes the components' values."""

    def __init__(self, studio: Studio, form: Form):
        self.studio = studio
        self.form = form

    def start(self, request: gr.Request, run_id, adapter_dir, tasks, *values):
        if not run_id:
            return gr.skip(), gr.skip(), card("Run: pick one first (one with a saved adapter).")
        source = None if adapter_dir in (None, "", FINAL) else adapter_dir
        try:
            options = BenchOptions(tasks=list(tasks or []), **self.form.values(values))
            snap = self.studio.start_benchmarks(run_id, options, source, user_of(request))
        except ValueError as exc:
            return gr.skip(), gr.skip(), card(str(exc))
        return _status(snap), gr.Timer(active=True), ""

    def stop(self, request: gr.Request):
        if self.studio.stop_benchmarks(user_of(request)):
            return card("Stopping after the batch under way; finished tasks are kept.", "info")
        return card("No benchmark of yours is running.", "warning")

    def poll(self, run_id, request: gr.Request):
        """Progress while it runs; when it ends, its results (and the timer off)."""
        snap = self.studio.bench_progress(user_of(request))
        if snap.active:
            return _status(snap), gr.skip(), gr.skip(), gr.skip()
        if snap.status == "idle":
            return gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
        shown = run_id if run_id else snap.run_id
        return (_status(snap), *self._results(shown, request)[1:], gr.Timer(active=False))

    def show(self, run_id, request: gr.Request):
        return self._results(run_id, request)

    def _results(self, run_id, request) -> tuple:
        saved = self.studio.bench_results(run_id, user_of(request)) if run_id else None
        tasks = (saved or {}).get("tasks")
        status = f"Saved benchmarks of {run_id}: {len(tasks)} tasks." if tasks else ""
        return status, bench_table(tasks), bench_figure(tasks, f"{run_id}: base vs adapter" if tasks else "")


def _status(snap: BenchSnapshot) -> str:
    if snap.status == "failed":
        return f"**Benchmark failed:** {snap.error}"
    if snap.active:
        eta = f", about {duration(snap.eta_s)} left" if snap.eta_s else ""
        return f"**{snap.run_id}**: {100 * snap.fraction:.0f}% ({snap.status}) {snap.message}{eta}"
    result = snap.result or {}
    said = result.get("stopped_at") or f"done in {result.get('seconds', '?')} s"
    return f"**{snap.run_id}**: benchmark {snap.status}, {said}. Saved to benchmarks.json in the run."
