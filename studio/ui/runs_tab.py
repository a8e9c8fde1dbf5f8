"""Runs tab: every run directory, after any restart, with its status and best numbers.

Open a run (its curves, config, probes and log), overlay the curves of several runs, resume a
stopped or killed run from its last checkpoint, or delete one. The run directories are the
truth; this tab asks the services for what they hold and renders it.

On a studio several people share, each sees their own runs and those others shared, read-only
(the "Shared" box: its owner lets the others open it and chat with it). Deleting a run that waits
in the training queue takes it out of the line.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from studio.services import Studio, duration, placeholder_figure
from studio.ui.errors import card
from studio.ui.space import user_of
from studio.ui.train_views import PROBE_WIDTHS, probe_columns

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
    status = r.get("queue") or r["status"]  # a waiting run: its place in line
    if r.get("shared"):
        status += f" (shared by {r.get('owner')})"
    return [
        r["run"],
        status,
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


def _differences(run_ids: list[str], rows: list[dict]) -> gr.Dataframe:
    """The differing config fields, one column per run, every run's in view; a sentence when there
    is nothing to list."""
    if len(run_ids) < 2 or not rows:
        said = "pick two runs or more to list their differences" if len(run_ids) < 2 else "the configs are the same"
        return gr.Dataframe(value=[[said]], headers=["field"], column_widths=None)
    widths = ["20%", *[f"{80 / len(run_ids):.1f}%"] * len(run_ids)]
    data = [[r["field"], *(_cell(r[i]) for i in run_ids)] for r in rows]
    return gr.Dataframe(value=data, headers=["field", *run_ids], column_widths=widths)


def _md(value) -> str:
    """A table cell: no pipe or line break from the run's files breaks the table."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def summary_text(s: dict) -> str:
    """One run's summary as a table a person reads (it was the raw JSON); empty fields left out."""
    ppl = s.get("eval_perplexity")
    memory = [f"peak {s['peak_memory_gib']} GiB" if s.get("peak_memory_gib") else ""]
    memory += [f"estimate {s['estimated_memory_gib']} GiB" if s.get("estimated_memory_gib") else ""]
    segments = s.get("segments") or []
    seconds = s.get("train_seconds")
    rows = [
        ("status", s.get("queue") or s["status"]),
        ("error", s.get("error")),
        ("training", f"{s['method'].upper()} · {s['adapter']} · `{s['model']}`"),
        ("step", f"{s['step']} of {s.get('total_steps') or '?'}" + (f" (saved: {s['checkpoint']})" if s.get("checkpoint") else "")),
        ("last train loss", s.get("last_loss")),
        ("best eval loss", s.get("best_eval_loss")),
        ("best reward accuracy", s.get("best_reward_accuracy")),
        ("best reward margin", s.get("best_reward_margin")),
        ("eval perplexity", f"base {ppl['base']} → adapter {ppl['adapter']}" if ppl else None),
        ("memory", ", ".join(m for m in memory if m)),
        ("time per step", f"{s['seconds_per_step']} s" if s.get("seconds_per_step") else None),
        ("training time", duration(seconds) + (f" in {len(segments)} segments" if len(segments) > 1 else "") if seconds else None),
        ("tokens trained", f"{s['tokens']:,}" if s.get("tokens") else None),
        ("started", s.get("started")),
        ("owner", (s.get("owner") or "") + (" (shared read-only)" if s.get("shared") else "")),
    ]  # fmt: skip
    cells = [f"| {name} | {_md(value)} |" for name, value in rows if value not in (None, "")]
    lines = [f"**{_md(s['run'])}**", "", cells[0], "|---|---|", *cells[1:]]  # the status heads the table
    if len(segments) > 1:  # each start and resume: where the time went
        lines += ["", "| segment | began | ended | steps | time | device |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {g['segment']} | {g['began']} | {g['ended']} | {g['steps']} | {duration(g['train_seconds'])} | {_md(g['device'])} |"
            for g in segments
        ]
    return "\n".join(lines)


def tracker_text(view: dict | None) -> str:
    """The tracker a run also logged to and the commands that open its dashboard; "" for a run without one."""
    if not view:
        return ""
    parts = [f"**Also logged to {view['tracker']}** ({view['place']})."]
    if view["link"]:
        parts.append(f"Its dashboard is running: [{view['link']}]({view['link']})")
    if view["commands"]:
        parts.append("Open its dashboard with:\n```bash\n" + "\n".join(view["commands"]) + "\n```")
    if view["note"]:
        parts.append(view["note"])
    return "\n\n".join(parts)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def _table(rows: list[dict]) -> dict:
    return {"headers": HEADERS, "data": [_row(r) for r in rows]}


def _layout() -> SimpleNamespace:
    ui = SimpleNamespace()
    with gr.Row():
        ui.refresh = gr.Button("Refresh", scale=0, min_width=120)
        ui.message = gr.HTML(elem_id="runs-message")
    ui.table = gr.Dataframe(headers=HEADERS, label="Run history", interactive=False, max_height=360)
    with gr.Row():
        ui.chosen = gr.Dropdown([], label="Run", info="Open it, resume it or delete it.", scale=3)
        ui.open = gr.Button("Open", scale=0, min_width=90)
        ui.resume = gr.Button("Resume from last checkpoint", variant="primary", scale=0, min_width=200)
        ui.shared = gr.Checkbox(label="Shared", info="read-only for the others", value=False, scale=0, min_width=130)
        ui.confirm = gr.Checkbox(label="Yes, delete it", value=False, scale=0, min_width=130)
        ui.delete = gr.Button("Delete", variant="stop", scale=0, min_width=90)
    with gr.Row():
        with gr.Column(scale=3):
            ui.curves = gr.Plot(placeholder_figure("Open a run to see its curves."), label="Curves")
        with gr.Column(scale=2):
            ui.summary = gr.Markdown("Open a run to see its summary.", elem_id="runs-summary")
            ui.tracker = gr.Markdown(elem_id="runs-tracker")
            ui.probes = gr.Dataframe(
                headers=["prompt", "latest", "base"], column_widths=PROBE_WIDTHS, label="Probe prompts", wrap=True
            )
    with gr.Accordion("Config and log", open=False):
        ui.config = gr.Code(language="yaml", label="config.yaml")
        ui.log = gr.Textbox(label="Log (tail)", lines=10, max_lines=10, interactive=False)
    with gr.Accordion("Compare runs", open=True):
        with gr.Row():
            ui.compared = gr.Dropdown([], multiselect=True, label="Runs to overlay", scale=3)
            ui.metric = gr.Dropdown(["loss", "eval_loss"], value="loss", label="Metric", allow_custom_value=True)
            ui.compare = gr.Button("Compare", scale=0, min_width=110)
        ui.overlay = gr.Plot(
            placeholder_figure("Pick runs and press Compare to overlay a metric."), label="Overlayed curves"
        )
        ui.differences = gr.Dataframe(  # full width: one column per compared run, each in view
            headers=["the config fields that differ between the compared runs appear here"],
            label="Config differences",
            interactive=False,
            wrap=True,
            max_height=420,
        )
    return ui


class _Handlers:
    def __init__(self, studio: Studio):
        self.studio = studio

    def on_load(self, request: gr.Request):
        return self.refresh(None, request)

    def refresh(self, current, request: gr.Request):
        """Outputs: table, run, runs to compare, message (the count)."""
        rows = self.studio.run_summaries(user_of(request))
        note = f"{len(rows)} runs in {self.studio.runs_root or 'the runs folder'}" if rows else "No runs yet."
        return *self.relist(current, request, rows), note

    def relist(self, current, request: gr.Request, rows=None):
        """The listing only: after a resume or a delete the message keeps saying what happened."""
        rows = self.studio.run_summaries(user_of(request)) if rows is None else rows
        ids = [r["run"] for r in rows]
        value = current if current in ids else (ids[0] if ids else None)
        return _table(rows), gr.Dropdown(choices=ids, value=value), gr.Dropdown(choices=ids)

    def open(self, run_id, request: gr.Request):
        """Outputs: curves, summary, tracker, probes, config, log, shared, message; a refusal is a card, the view stays."""
        if not run_id:
            return *[gr.skip()] * 7, card("Run: pick one first.")
        try:
            view = self.studio.run_view(run_id, user_of(request))
        except ValueError as exc:  # e.g. deleted meanwhile
            return *[gr.skip()] * 7, card(str(exc))
        headers, rows = probe_columns(*view["probes"])
        probes = gr.Dataframe(value=rows, headers=headers, column_widths=PROBE_WIDTHS)
        shared = bool(view["summary"].get("shared"))
        tracker = tracker_text(view["tracker"])
        summary = summary_text(view["summary"])
        return view["figure"], summary, tracker, probes, view["config"], view["log"], shared, gr.skip()

    def compare(self, run_ids, key, request: gr.Request):
        """Outputs: overlay, metric, config differences, message."""
        if not run_ids:
            return gr.skip(), gr.skip(), gr.skip(), card("Runs to overlay: pick at least one.")
        user = user_of(request)
        try:
            figure, keys, key = self.studio.compare_runs(run_ids, key, user)
            rows = self.studio.config_differences(run_ids, user)
        except ValueError as exc:
            return gr.skip(), gr.skip(), gr.skip(), card(str(exc))
        return figure, gr.Dropdown(choices=keys, value=key), _differences(run_ids, rows), gr.skip()

    def resume(self, run_id, request: gr.Request):
        """A card saying what happened, in place: a refusal covers nothing else."""
        if not run_id:
            return card("Run: pick one first.")
        try:
            run = self.studio.resume_training(run_id, user_of(request))
        except (ValueError, RuntimeError) as exc:  # a ConfigError or QueueFull is a ValueError, JobBusy a RuntimeError
            return card(f"Resume {run_id}: {exc}")
        queued = self.studio.queued(run.id)
        if queued:
            return card(f"Resuming {run.id}: {queued}; it starts by itself.", "info", elem_id="runs-resumed")
        checkpoint = run.last_checkpoint()
        where = checkpoint.name if checkpoint else "?"
        return card(f"Resumed {run.id} from {where}; watch it in the Train tab.", "info", elem_id="runs-resumed")

    def share(self, run_id, shared, request: gr.Request):
        """The owner shares a run read-only with the others, or stops sharing it."""
        if not run_id:
            return card("Run: pick one first."), False
        try:
            self.studio.share_run(run_id, bool(shared), user_of(request))
        except ValueError as exc:
            return card(str(exc)), not shared
        said = "shared read-only with the others" if shared else "yours only again"
        return card(f"Run {run_id} is {said}.", "info"), gr.skip()

    def delete(self, run_id, sure, request: gr.Request):
        if not run_id:
            return card("Run: pick one first."), gr.skip()
        user = user_of(request)
        try:
            self.studio.run(run_id, user)  # an unknown run is named before the confirmation is asked
            if not sure:
                return card("Tick 'Yes, delete it' first: a deleted run cannot be brought back."), gr.skip()
            self.studio.delete_run(run_id, user)
        except ValueError as exc:
            return card(str(exc)), gr.skip()
        return card(f"Deleted {run_id}.", "info"), False


def build(studio: Studio) -> dict:
    ui, h = _layout(), _Handlers(studio)
    listing = [ui.table, ui.chosen, ui.compared, ui.message]
    ui.refresh.click(h.refresh, ui.chosen, listing, api_name="list_runs")
    gr.on(None, h.on_load, None, listing)  # on page load: the history survives restarts
    opened = [ui.curves, ui.summary, ui.tracker, ui.probes, ui.config, ui.log, ui.shared, ui.message]
    ui.open.click(h.open, ui.chosen, opened, api_name="open_run")
    ui.chosen.select(h.open, ui.chosen, opened)
    ui.compare.click(
        h.compare,
        [ui.compared, ui.metric],
        [ui.overlay, ui.metric, ui.differences, ui.message],
        api_name="compare_runs",
    )
    ui.resume.click(h.resume, ui.chosen, ui.message, api_name="resume_run").then(h.relist, ui.chosen, listing[:3])
    ui.shared.input(h.share, [ui.chosen, ui.shared], [ui.message, ui.shared], api_name="share_run").then(
        h.relist, ui.chosen, listing[:3]
    )
    ui.delete.click(h.delete, [ui.chosen, ui.confirm], [ui.message, ui.confirm], api_name="delete_run").then(
        h.relist, ui.chosen, listing[:3]
    )
    return {"table": ui.table, "chosen": ui.chosen, "refresh": (h.refresh, listing)}
