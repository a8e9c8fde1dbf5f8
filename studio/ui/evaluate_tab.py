"""Evaluate tab: numbers on base versus adapter from the run's held-out rows, and batch compare.

The same evaluation runs headless: ``python -m studio eval --run runs/<id> --json``. Results are
saved into the run (eval.json, eval_generations.csv), so picking an evaluated run shows them again.
"""

from __future__ import annotations

import html
import re

import gradio as gr

from studio.services import (
    EvalOptions,
    NoValidationSplit,
    Sampling,
    Studio,
    parse_prompts,
    placeholder_figure,
    results_figure,
    results_table,
)
from studio.ui import bench_panel, judge_panel
from studio.ui.errors import card
from studio.ui.forms import Form
from studio.ui.space import user_of

FINAL = "final"
PROMPTS = EvalOptions().generate_rows  # held-out prompts taken for batch compare: the evaluation's own count
COMPARE_FIELDS = ["greedy", "max_new_tokens", "temperature", "top_p", "seed"]
DEL_STYLE = "background:#fee2e2;text-decoration:line-through;text-decoration-color:#dc2626"
INS_STYLE = "background:#dcfce7"


def build(studio: Studio) -> dict:
    options_form, compare_form = Form(), Form()
    ui = _layout(options_form, compare_form)
    actions = EvalActions(studio, options_form, compare_form)
    _wire(ui, actions, options_form, compare_form)
    judge_panel.build(studio, ui["run"])  # LLM judges: a section of its own, below
    bench_panel.build(studio, ui["run"], ui["adapter"])  # lm-evaluation-harness benchmarks, base vs adapter
    return {"run": ui["run"], "refresh": (actions.runs_update, ui["run"]), "history": (actions.history, ui["history"])}


def _layout(options_form: Form, compare_form: Form) -> dict:
    ui: dict = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            ui["run"] = gr.Dropdown(
                [], label="Run", info="A run with a saved adapter (or full model).", allow_custom_value=True
            )
            ui["adapter"] = gr.Dropdown(
                [("The run's final adapter", FINAL)],
                value=FINAL,
                label="Adapter",
                info="Or one of its checkpoints.",
                allow_custom_value=True,
            )
            ui["refresh"] = gr.Button("Refresh runs", size="sm")
            options_form.add(EvalOptions())
            ui["evaluate"] = gr.Button("Evaluate base vs adapter", variant="primary")
            ui["sample"] = gr.Button("Evaluate on a seeded training sample instead", visible=False)
            ui["note"] = gr.HTML(elem_id="eval-note")  # a refused evaluation says why here; results stay
            ui["status"] = gr.Markdown(elem_id="eval-status")
            gr.Markdown(
                "Chat and evaluation share the loaded models: while an evaluation runs, chat waits. "
                "A training keeps its own copy and is never touched."
            )
        with gr.Column(scale=2):
            ui["table"] = gr.Dataframe(EMPTY_TABLE, label="Base vs adapter", interactive=False, elem_id="eval-table")
            ui["chart"] = gr.Plot(placeholder_figure(EMPTY_CHART), label="Metrics", elem_id="eval-chart")
            ui["generations"] = gr.Dataframe(
                EMPTY_GENERATIONS,
                label="Held-out prompts: reference and answers",
                wrap=True,
                interactive=False,
                column_widths=["19%", "27%", "27%", "27%"],
                max_height=480,
            )
            ui["files"] = gr.File(
                label="Download (eval.json, generations CSV)", file_count="multiple", interactive=False
            )
    with gr.Accordion("Batch compare: many prompts, base and adapter side by side", open=False):
        with gr.Row():
            with gr.Column(scale=2):
                ui["prompts"] = gr.Textbox(label="Prompts, one per line", lines=6, elem_id="compare-prompts")
                with gr.Row():
                    ui["held_out"] = gr.Button("Take prompts from the run's validation split", size="sm")
                    ui["count"] = gr.Number(
                        value=PROMPTS, precision=0, minimum=1, maximum=50, label="How many", scale=0
                    )
                ui["compare_note"] = gr.HTML(elem_id="compare-note")
            with gr.Column(scale=1):
                compare_form.add(Sampling(greedy=True, max_new_tokens=64), COMPARE_FIELDS)
                ui["compare"] = gr.Button("Compare", variant="primary")
        ui["compared"] = gr.HTML(elem_id="compare-table")
        ui["compared_file"] = gr.File(label="Comparison CSV", interactive=False)
    with gr.Accordion("Evaluated runs", open=False):
        ui["history"] = gr.Dataframe(headers=["run", "method", "split", "rows"], interactive=False, wrap=True)
    # Once per page load: offer the runs that exist now (a one-shot timer, so no tab wiring is needed).
    ui["opened"] = gr.Timer(0.5)
    return ui


def _wire(ui: dict, actions: EvalActions, options_form: Form, compare_form: Form) -> None:
    run, adapter, history = ui["run"], ui["adapter"], ui["history"]
    outputs = [ui["status"], ui["table"], ui["chart"], ui["generations"], ui["files"], ui["sample"], ui["note"]]
    evaluate_inputs = [run, adapter, *options_form.inputs]
    ui["refresh"].click(actions.runs_update, run, run, api_name=False).then(actions.history, None, history)
    ui["opened"].tick(actions.opened, run, [run, history, ui["opened"]], api_name=False)
    run.change(actions.pick_run, run, [adapter, *outputs[:-1]], api_name=False)
    ui["evaluate"].click(actions.evaluate, evaluate_inputs, outputs, concurrency_id="model", api_name="evaluate").then(
        actions.history, None, history
    )
    train_sample = options_form.components["train_sample"]
    ui["sample"].click(lambda value: value or 32, train_sample, train_sample, queue=False).then(
        actions.evaluate, evaluate_inputs, outputs, concurrency_id="model", api_name=False
    )
    ui["held_out"].click(
        actions.held_out, [run, ui["count"]], [ui["prompts"], ui["compare_note"]], api_name="held_out_prompts"
    )
    ui["compare"].click(
        actions.compare,
        [run, adapter, ui["prompts"], *compare_form.inputs],
        [ui["compared"], ui["compared_file"], ui["compare_note"]],
        concurrency_id="model",
        api_name="batch_compare",
    )


class EvalActions:
    """The Evaluate tab's handlers: each calls one service and shapes the components' values."""

    def __init__(self, studio: Studio, options_form: Form, compare_form: Form):
        self.studio = studio
        self.options_form = options_form
        self.compare_form = compare_form

    def runs_update(self, current, request: gr.Request):
        ids = [r.id for r in self.studio.runs(user_of(request)) if r.has_adapter()]
        return gr.update(choices=ids, value=current if current in ids else (ids[0] if ids else None))

    def opened(self, current, request: gr.Request):
        return self.runs_update(current, request), self.history(request), gr.Timer(active=False)

    def pick_run(self, run_id, request: gr.Request):
        """The run's checkpoints to pick from, and its saved evaluation if any."""
        if not run_id:
            return gr.update(choices=[("The run's final adapter", FINAL)], value=FINAL), *_empty(), gr.update()
        user = user_of(request)
        checkpoints = [(c.name, str(c)) for c in self.studio.run(run_id, user).checkpoints()]
        picker = gr.update(choices=[("The run's final adapter", FINAL), *checkpoints], value=FINAL)
        saved = self.studio.eval_results(run_id, user)
        if not saved:
            return picker, *_empty(f"Run {run_id} has not been evaluated yet."), gr.update(visible=False)
        return picker, *_show(self.studio, run_id, saved, user), gr.update(visible=False)

    def evaluate(self, request: gr.Request, run_id, adapter_dir, *values, progress=gr.Progress()):
        """Base vs adapter on the run's held-out rows; a refusal is a card, the results shown stay."""
        refused = [gr.skip()] * 6
        if not run_id:
            return *refused, card("Run: pick one first (one with a saved adapter).")
        user = user_of(request)
        source = None if adapter_dir in (None, "", FINAL) else adapter_dir
        try:
            options = EvalOptions(**self.options_form.values(values))
            result = self.studio.evaluate(run_id, options, source, lambda f, m: progress(f, desc=m), user)
        except NoValidationSplit as exc:
            return *_empty(f"**No validation split.** {exc}"), gr.update(visible=True), ""
        except ValueError as exc:
            return *refused, card(str(exc))
        return *_show(self.studio, run_id, result, user), gr.update(visible=False), ""

    def held_out(self, run_id, n, request: gr.Request):
        if not run_id:
            return gr.skip(), card("Run: pick one first; its validation split gives the prompts.")
        try:
            return "\n".join(self.studio.held_out_prompts(run_id, int(n or PROMPTS), user=user_of(request))), ""
        except ValueError as exc:
            return gr.skip(), card(str(exc))

    def compare(self, request: gr.Request, run_id, adapter_dir, text, *values):
        if not run_id:
            return gr.skip(), gr.skip(), card("Run: pick one first; its adapter answers beside the base.")
        user = user_of(request)
        try:
            sampling = Sampling(**self.compare_form.values(values))
            run = self.studio.run(run_id, user)
            source = str(run.adapter_dir) if adapter_dir in (None, "", FINAL) else adapter_dir
            rows = self.studio.compare(parse_prompts(text), source, sampling, user=user)
        except ValueError as exc:
            return gr.skip(), gr.skip(), card(str(exc))
        return _compare_html(rows), self.studio.compare_csv(run_id, rows, user), ""

    def history(self, request: gr.Request):
        rows = self.studio.eval_history(user_of(request))
        columns = list(dict.fromkeys(k for row in rows for k in row))
        return {"headers": columns or ["run"], "data": [[row.get(c) for c in columns] for row in rows] or [[""]]}


# Before an evaluation: headers and a sentence saying what will appear, not bare "1 2 3" columns.
EMPTY_TABLE = {"headers": ["metric", "base", "adapter"], "data": []}
EMPTY_GENERATIONS = {"headers": ["prompt", "reference", "base", "adapter"], "data": []}
EMPTY_CHART = "The metrics of base and adapter appear here after an evaluation."


def _empty(status: str = ""):
    return status, EMPTY_TABLE, placeholder_figure(EMPTY_CHART), EMPTY_GENERATIONS, None


def _show(studio: Studio, run_id: str, result: dict, user: str) -> tuple:
    """Status text, table, chart, generations and files for an evaluation result (saved in the run)."""
    lines = [
        f"**{result['run']}** ({result['method']}): {result['rows']} {result['split']} rows, "
        f"{result.get('generated', 0)} generations, {result.get('seconds', '?')} s. "
        f"Adapter: `{result.get('adapter_dir', '')}`"
    ]
    lines += [f"⚠ {w}" for w in result.get("warnings", [])]
    gens = result.get("generations") or []
    gen_table = (
        {
            "headers": ["prompt", "reference", "base", "adapter"],
            "data": [[g["prompt"], g["reference"], g["base"], g["adapter"]] for g in gens],
        }
        if gens
        else EMPTY_GENERATIONS
    )
    downloads = studio.eval_files(run_id, user) or None
    return "\n\n".join(lines), results_table(result), results_figure(result), gen_table, downloads


def _diff_cell(segments) -> str:
    out = []
    for text, tag in segments:
        piece = re.sub(r"\n{3,}", "\n\n", html.escape(text)).replace("\n", "<br>")
        if tag == "del":
            out.append(f"<span style='{DEL_STYLE}'>{piece}</span>")
        elif tag == "ins":
            out.append(f"<span style='{INS_STYLE}'>{piece}</span>")
        else:
            out.append(piece)
    return f"<div style='max-height:14em;overflow:auto'>{''.join(out)}</div>"


def _compare_html(rows: list[dict]) -> str:
    same = sum(r["same"] for r in rows)
    head = (
        f"<p>{len(rows)} prompts; {same} answered identically. "
        f"<span style='{DEL_STYLE}'>struck</span>: the base's words the adapter did not say; "
        f"<span style='{INS_STYLE}'>green</span>: the adapter's own words.</p>"
    )
    cells = "".join(
        f"<tr><td>{html.escape(r['prompt'])}</td><td>{_diff_cell(r['base_diff'])}</td>"
        f"<td>{_diff_cell(r['adapter_diff'])}</td><td>{r['similarity']:.2f}</td></tr>"
        for r in rows
    )
    return (
        f"{head}<table style='width:100%;border-collapse:collapse' class='compare'>"
        "<thead><tr><th>prompt</th><th>base</th><th>adapter</th><th>word overlap</th></tr></thead>"
        f"<tbody>{cells}</tbody></table>"
    )
