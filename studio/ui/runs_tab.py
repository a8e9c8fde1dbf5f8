"""Runs tab: every run directory, after any restart, with its status and best numbers.

Open a run (its curves, config, probes and log), overlay the curves of several runs, resume a
stopped or killed run from its last checkpoint, or delete one. The run directories are the
truth; this tab only reads them (and asks the job manager to resume).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from studio.services import Studio, compare_figure, is_dpo, metric_keys, probe_table, training_figure

HEADERS = [
    "run",
    "status",
    "training",
    "model",
    "step",
    "last loss",
    "best eval loss",
    "best reward acc.",
    "peak / est. GiB",
    "eval ppl base → adapter",
    "started",
]


def _row(r: dict) -> list:
    def blank(value):
        return "" if value is None else value

    memory = ""
    if r.get("peak_memory_gib") or r.get("estimated_memory_gib"):
        memory = f"{blank(r.get('peak_memory_gib')) or '-'} / {blank(r.get('estimated_memory_gib')) or '-'}"
    ppl = r.get("eval_perplexity")
    return [
        r["run"],
        r["status"],
        f"{r['method']} {r['adapter']}",
        str(r["model"]).rstrip("/").rsplit("/", 1)[-1],
        f"{r['step']}/{r['total_steps'] or '?'}",
        blank(r.get("last_loss")),
        blank(r.get("best_eval_loss")),
        blank(r.get("best_reward_accuracy")),
        memory,
        f"{ppl['base']} → {ppl['adapter']}" if ppl else "",
        r.get("started", ""),
    ]


def _table(rows: list[dict]) -> dict:
    return {"headers": HEADERS, "data": [_row(r) for r in rows]}


def _layout() -> SimpleNamespace:
    ui = SimpleNamespace()
    with gr.Row():
        ui.refresh = gr.Button("Refresh", scale=0, min_width=120)
        ui.message = gr.Markdown()
    ui.table = gr.Dataframe(headers=HEADERS, label="Run history", interactive=False, max_height=360)
    with gr.Row():
        ui.chosen = gr.Dropdown([], label="Run", info="Open it, resume it or delete it.", scale=3)
        ui.open = gr.Button("Open", scale=0, min_width=90)
        ui.resume = gr.Button("Resume from last checkpoint", variant="primary", scale=0, min_width=200)
        ui.confirm = gr.Checkbox(label="Yes, delete it", value=False, scale=0, min_width=130)
        ui.delete = gr.Button("Delete", variant="stop", scale=0, min_width=90)
    with gr.Row():
        with gr.Column(scale=3):
            ui.curves = gr.Plot(label="Curves")
        with gr.Column(scale=2):
            ui.summary = gr.JSON(label="Summary")
            ui.probes = gr.Dataframe(headers=["prompt", "base", "current"], label="Probe prompts", wrap=True)
    with gr.Accordion("Config and log", open=False):
        ui.config = gr.Code(language="yaml", label="config.yaml")
        ui.log = gr.Textbox(label="Log (tail)", lines=10, max_lines=10, interactive=False)
    with gr.Accordion("Compare runs", open=True):
        with gr.Row():
            ui.compared = gr.Dropdown([], multiselect=True, label="Runs to overlay", scale=3)
            ui.metric = gr.Dropdown(["loss", "eval_loss"], value="loss", label="Metric", allow_custom_value=True)
            ui.compare = gr.Button("Compare", scale=0, min_width=110)
        ui.overlay = gr.Plot(label="Overlayed curves")
    return ui


class _Handlers:
    def __init__(self, studio: Studio):
        self.studio = studio

    def _run(self, run_id):
        if not run_id:
            raise gr.Error("Pick a run first.")
        try:
            return self.studio.run(run_id)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc

    def refresh(self, current):
        rows = [run.summary() for run in self.studio.runs()]
        ids = [r["run"] for r in rows]
        value = current if current in ids else (ids[0] if ids else None)
        note = f"{len(rows)} runs in {self.studio.runs_root or 'the runs folder'}" if rows else "No runs yet."
        return _table(rows), gr.Dropdown(choices=ids, value=value), gr.Dropdown(choices=ids), note

    def open(self, run_id):
        run = self._run(run_id)
        metrics = run.metrics()
        headers, rows = probe_table(run.probes())
        return (
            training_figure(metrics, dpo=is_dpo(metrics)),
            run.summary(),
            gr.Dataframe(value=rows, headers=headers),
            run.config_path.read_text(),
            run.log_tail(40),
        )

    def compare(self, run_ids, key):
        if not run_ids:
            raise gr.Error("Pick at least one run to overlay.")
        curves = {run_id: self._run(run_id).metrics() for run_id in run_ids}
        keys = metric_keys(curves)
        key = key if key in keys else (keys[0] if keys else "loss")
        return compare_figure(curves, key), gr.Dropdown(choices=keys, value=key)

    def resume(self, run_id):
        self._run(run_id)
        try:
            run = self.studio.resume_training(run_id)
        except (ValueError, RuntimeError) as exc:  # ConfigError is a ValueError; JobBusy a RuntimeError
            raise gr.Error(str(exc)) from exc
        checkpoint = run.last_checkpoint()
        return f"Resumed **{run.id}** from {checkpoint.name if checkpoint else '?'}; watch it in the Train tab."

    def delete(self, run_id, sure):
        self._run(run_id)
        if not sure:
            raise gr.Error("Tick 'Yes, delete it' first: a deleted run cannot be brought back.")
        try:
            self.studio.delete_run(run_id)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        return f"Deleted {run_id}.", False


def build(studio: Studio) -> dict:
    ui, h = _layout(), _Handlers(studio)
    listing = [ui.table, ui.chosen, ui.compared, ui.message]
    ui.refresh.click(h.refresh, ui.chosen, listing, api_name="list_runs")
    gr.on(None, lambda: h.refresh(None), None, listing)  # on page load: the history survives restarts
    opened = [ui.curves, ui.summary, ui.probes, ui.config, ui.log]
    ui.open.click(h.open, ui.chosen, opened, api_name="open_run")
    ui.chosen.select(h.open, ui.chosen, opened)
    ui.compare.click(h.compare, [ui.compared, ui.metric], [ui.overlay, ui.metric], api_name="compare_runs")
    ui.resume.click(h.resume, ui.chosen, ui.message, api_name="resume_run").then(h.refresh, ui.chosen, listing)
    ui.delete.click(h.delete, [ui.chosen, ui.confirm], [ui.message, ui.confirm], api_name="delete_run").then(
        h.refresh, ui.chosen, listing
    )
    return {"table": ui.table, "chosen": ui.chosen, "refresh": (h.refresh, listing)}
