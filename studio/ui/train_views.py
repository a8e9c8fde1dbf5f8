"""HTML for the Train and Runs tabs: the progress line, the pre-start review, the estimate,
and the probe table.

Pure functions from service dataclasses (Progress, Review, Estimate) to HTML strings and
components; no events, no torch.
"""

from __future__ import annotations

import html

import gradio as gr

from studio.services import duration, probe_table

GIB = 2**30
LIGHT = {"fits": "#16a34a", "tight": "#d97706", "won't fit": "#dc2626"}
UNTIMED = {"evaluating": "evaluations", "probing": "probe answers", "saving": "checkpoint saves"}
STATUS_COLOR = {"failed": "#dc2626", "interrupted": "#dc2626", "stopped": "#d97706", "completed": "#16a34a"}


def _e(text) -> str:
    return html.escape(str(text))


def _gib(n) -> str:
    return f"{n / GIB:.2f} GiB" if n else "-"


def status_html(p) -> str:
    if p.status == "idle":
        said = _e(p.message) or "No training in this session yet: fill the form and press Start."
        return f"<div id='train-status'>{said}</div>"
    if p.waiting:  # in the training queue: its place in line, nothing measured yet
        return (
            f"<div id='train-status'><b>{_e(p.message or p.status)}</b>: it starts by itself when the training "
            f"before it ends.<div style='color:#6b7280'>run {_e(p.run_id)} &middot; {_e(p.run_dir)}</div></div>"
        )
    pct = round(100 * p.fraction, 1)
    color = STATUS_COLOR.get(p.status, "#2563eb")
    step = f"step {p.step}/{p.total_steps or '?'}"
    parts = [f"<b>{_e(p.status)}</b>", step]
    if p.phase and p.active and p.phase != "training":
        # What holds the steps back, and for how long: "evaluating (step 10/40) for 0m42s".
        parts[1] = f"<span id='train-phase'>{_e(p.phase)} ({step}) for {duration(p.phase_s)}</span>"
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4f}")
    if p.seconds_per_step:
        parts.append(f"{p.seconds_per_step:.2f} s/step")
    if p.tokens_per_s:
        parts.append(f"{p.tokens_per_s:.0f} tok/s")
    parts.append(f"elapsed {duration(p.elapsed_s)}")
    if p.active:
        untimed = ", ".join(UNTIMED.get(phase, phase) for phase in p.eta_untimed)
        later = f" (+ {untimed}, not timed yet)" if untimed and p.eta_s is not None else ""
        parts.append(f"ETA {duration(p.eta_s)}{later}")
    if p.peak_memory_bytes:
        estimate = f" (estimate {_gib(p.estimated_memory_bytes)})" if p.estimated_memory_bytes else ""
        parts.append(f"peak memory {_gib(p.peak_memory_bytes)}{estimate}")
    extra = ""
    if p.stalled:
        extra += f"<div id='train-stalled' style='color:#dc2626'><b>Watchdog:</b> {_e(p.stalled)}</div>"
    if p.overfitting:
        extra += f"<div id='train-overfitting' style='color:#b45309'><b>Warning: {_e(p.overfitting)}</b></div>"
    extra += "".join(f"<div style='color:#b45309'>Warning: {_e(w)}</div>" for w in p.warnings)
    if p.error:
        extra += f"<div style='color:#dc2626'><b>Error:</b> {_e(p.error)}</div>"
    if p.run_id:
        extra += f"<div style='color:#6b7280'>run {_e(p.run_id)} &middot; {_e(p.run_dir)}</div>"
    return (
        f"<div id='train-status'><div>{' &middot; '.join(parts)}</div>"
        f"<div style='background:#e5e7eb;border-radius:6px;height:14px;margin:6px 0'>"
        f"<div style='width:{pct}%;background:{color};height:14px;border-radius:6px'></div></div>{extra}</div>"
    )


def problems_html(problems) -> str:
    if not problems:
        return "<div style='color:#16a34a'>No problems found in the form.</div>"
    rows = []
    for p in problems:
        label, color = ("error", "#dc2626") if p.level == "error" else ("warning", "#b45309")
        rows.append(f"<li style='color:{color}'>{label} at <b>{_e(p.field)}</b>: {_e(p.message)}</li>")
    return f"<ul style='margin:0;padding-left:1.2em'>{''.join(rows)}</ul>"


def estimate_html(est, fit) -> str:
    if est is None:
        return ""
    parts = "".join(
        f"<tr><td>{_e(k)}</td><td style='text-align:right'>{_gib(v)}</td></tr>"
        for k, v in est.memory_bytes.items()
        if k != "total"
    )
    parts += f"<tr><td><b>total</b></td><td style='text-align:right'><b>{_gib(est.total_bytes)}</b></td></tr>"
    light = ""
    if fit is not None:
        color = LIGHT.get(fit.level, "#6b7280")
        light = (
            f"<div id='fit-light'><span style='display:inline-block;width:12px;height:12px;border-radius:6px;"
            f"background:{color}'></span> <b>{_e(fit.level)}</b>: {_e(fit.message.split(': ', 1)[-1])}</div>"
        )
        if fit.suggestions:
            light += "<div>To make it fit:</div><ul style='margin:0;padding-left:1.2em'>"
            light += "".join(f"<li>{_e(s)}</li>" for s in fit.suggestions) + "</ul>"
    notes = "".join(f"<div style='color:#6b7280;font-size:90%'>{_e(n)}</div>" for n in est.notes)
    return (
        f"<div><b>Parameters</b>: {est.total_params:,} total, {est.trainable_params:,} trainable "
        f"({est.trainable_share:.3%})</div>"
        f"<table style='margin:4px 0'>{parts}</table>{light}{notes}"
    )


def review_html(r) -> str:
    """The pre-start panel: checks, batch arithmetic, precision, estimate, time."""
    blocks = [f"<div id='review-problems'>{problems_html(r.problems)}</div>"]
    if r.batch_text:
        batch = _e(r.batch_text).replace("**", "")
        blocks.append(f"<div id='review-batch'>{batch}</div>")
    if r.precision:
        blocks.append(f"<div>Precision: <b>{_e(r.precision)}</b> on {_e(r.device)}</div>")
    if r.time_text:
        blocks.append(f"<div>Time: {_e(r.time_text)}</div>")
    if r.layers:
        blocks.append(
            f"<div style='color:#6b7280;font-size:90%'>Layers an adapter can target: {_e(', '.join(r.layers))}</div>"
        )
    blocks.append(f"<div id='review-estimate'>{estimate_html(r.estimate, r.fit)}</div>")
    return "<div id='train-review'>" + "".join(blocks) + "</div>"


# The probe table: the prompt, then the latest answer (the column to read, "step N"), then the base's.
# Fixed widths keep all three in view; with wrapped long answers the last column ran off-screen.
PROBE_WIDTHS = ["24%", "38%", "38%"]
PROBE_EMPTY = [["Your probe prompts (form: Probe prompts)", "answered at each evaluation", "the base's answer, first"]]


def probe_columns(headers: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of studio's probe_table reordered to prompt, latest ("step N"), base."""
    order = [0, 2, 1]
    if not rows:
        return [headers[i] for i in order], PROBE_EMPTY
    return [headers[i] for i in order], [[row[i] for i in order] for row in rows]


def probe_frame(probes: list[dict], **props) -> gr.Dataframe:
    """The probe table of a run's probe answers (``props``: the component's other arguments)."""
    headers, rows = probe_columns(*probe_table(probes))
    return gr.Dataframe(value=rows, headers=headers, column_widths=PROBE_WIDTHS, **props)


def samples_columns(headers: list[str], rows: list[list]) -> tuple[list[str], list[list], list[str]]:
    """GRPO's table (step, prompt, answer, total, each reward) reordered to what is read first: the
    answer and its rewards, then the prompt and the step; with the columns' widths."""
    if not headers:
        return [], [], []
    order = [2, *range(3, len(headers)), 1, 0]
    scores = len(headers) - 3
    widths = ["40%", *[f"{24 / scores:.1f}%"] * scores, "30%", "6%"]
    return [headers[i] for i in order], [[row[i] for i in order] for row in rows], widths


def samples_frame(headers: list[str], rows: list[list], **props) -> gr.Dataframe:
    """GRPO's sampled answers of the latest step with their rewards; hidden for other methods."""
    headers, rows, widths = samples_columns(headers, rows)
    shown = dict(value=rows, headers=headers, column_widths=widths) if rows else dict(value=None, headers=None)
    return gr.Dataframe(**shown, visible=bool(rows), **props)


def stale_refusal(message: str, flagged: list):
    """A refused Start's card goes once the review finds no field to fix; other cards stay."""
    return "" if "train-refused" in (message or "") and not flagged else gr.skip()


def loaded_params(params: dict | None):
    return tuple(params[k] for k in ("source", "format", "columns", "system")) if params else (gr.skip(),) * 4
