"""Train tab: the run form (generated from RunConfig), a live review, Start/Stop, live monitoring.

The form's fields come from the config dataclasses, laid out in short rows by topic. As the
user types, the review panel shows every problem at its field, the effective batch and step
count, the memory estimate with its traffic light, and the exact headless command. The job lives
on the server; a ``gr.Timer`` polls its snapshot while it runs and switches itself off when it
ends. Loading the page (or selecting the tab) re-attaches to a running job with its whole curve.

On a studio several people share, each handler asks the services as the person behind the event
(``user_of(request)``): a Start while a training runs waits in the queue and the status says its
place in line; Stop stops one's own training, or cancels one's own waiting Start.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import yaml

from studio.config import RunConfig
from studio.schema import ConfigError, Problem, apply_overrides, typed_fields
from studio.services import QueueFull, Studio, command_text, is_dpo, optimizer_choices, training_figure
from studio.ui.errors import card, user_error
from studio.ui.forms import Form
from studio.ui.space import user_of
from studio.ui.train_guide import GUIDED, guide_view, wire_guide
from studio.ui.train_layout import SECTIONS, build_layout, field_order
from studio.ui.train_views import loaded_params, probe_frame, review_html, samples_frame, stale_refusal, status_html

FIX_HINT = "Fix the field in the form (the review below lists every problem) and press Start again."


def _set_props(component, **props) -> None:
    """Change a built component's props for good: Gradio rebuilds a session's copy of a component
    from its constructor arguments whenever an event updates it, so those change too."""
    for key, value in props.items():
        setattr(component, key, value)
    for kwargs in getattr(component, "_constructor_args", []):
        kwargs.update(props)


def _tune_components(form: Form, device_kind: str) -> None:
    """What the generated components cannot know: the hardware's optimizers, a multi-line probe box.

    Number bounds are left to the review: Gradio would refuse the whole event with a message
    that names no field, while the review names the field, at the field and in the panel.
    """
    for component in form.components.values():
        if isinstance(component, gr.Number):
            _set_props(component, minimum=None, maximum=None)
    _set_props(form.components["optim"], choices=[(c, c) for c in optimizer_choices(device_kind)])
    _set_props(form.components["probe_prompts"], lines=3, max_lines=10, placeholder="Who are you?\nWhat is 2 + 2?")


class _Handlers:
    """The tab's event handlers: each reads the form, calls one service, renders the answer."""

    def __init__(self, studio: Studio, form: Form):
        self.studio, self.form = studio, form
        self.names = field_order()
        defaults = RunConfig()
        self.optional_numbers = {
            f.name
            for section in SECTIONS
            for f, kind, optional in typed_fields(getattr(defaults, section))
            if optional and kind in (int, float)
        }
        self.base_info = {name: component.info for name, component in form.components.items()}

    def read_config(self, *values) -> RunConfig:
        by_name = dict(zip(self.names, values, strict=True))
        for name in self.optional_numbers:  # an emptied Number arrives as 0 or None: "not set"
            if by_name.get(name) in (0, None, ""):
                by_name[name] = None
        flat = self.form.values([by_name[n] for n in self.form.components])
        config = RunConfig()
        apply_overrides(config, flat)
        config.run_name = flat.get("run_name", "")
        return config

    def snapshot(self, user: str | None):
        p = self.studio.progress(user)
        log_text = self.studio.run(p.run_dir, user).log_tail(20) if p.run_dir else ""
        table = probe_frame(p.probes)
        return p, status_html(p), training_figure(p.metrics, dpo=is_dpo(p.metrics)), log_text, table

    def _refused(self, lines: list[str], extra: int = 0):
        """A refusal: a card by the buttons; the status, curves, probes, log and timer as they were."""
        return (*[gr.skip()] * 5, card(lines, elem_id="train-refused"), *[gr.skip()] * extra)

    def on_start(self, request: gr.Request, *values):
        """Outputs: status, plot, log, probes, timer, message card, the shown run."""
        user = user_of(request)
        try:
            run = self.studio.start_training(self.read_config(*values), user)
        except QueueFull as exc:  # this person's limit of running or waiting trainings
            return self._refused([str(exc)], 1)
        except ConfigError as exc:
            errors = [p for p in exc.problems if p.level == "error"] or exc.problems
            return self._refused([*(f"{p.field}: {p.message}" for p in errors), FIX_HINT], 1)
        except ValueError as exc:
            return self._refused([str(exc), FIX_HINT], 1)
        except RuntimeError as exc:  # JobBusy: another run trains
            return self._refused([str(exc)], 1)
        return (*self.snapshot(user)[1:], gr.Timer(active=True), self._queued_card(run.id), run.id)

    def _queued_card(self, run_id: str, what: str = "Run") -> str:
        queued = self.studio.queued(run_id)
        if not queued:
            return ""
        return card(
            f"{what} {run_id} is {queued}: it starts by itself when the training before it ends "
            "(Stop takes it out of the line).",
            "info",
            elem_id="train-queued",
        )

    def on_resume(self, run_id, request: gr.Request):
        """Outputs: status, plot, log, probes, timer, message card, the shown run, the form."""
        n, user = len(self.form.components), user_of(request)
        if not run_id:
            return self._refused(["Interrupted run: pick one (only stopped or killed runs are listed)."], 1 + n)
        try:
            run = self.studio.resume_training(run_id, user)
            config = self.studio.run_config(run_id, user)
        except (ValueError, RuntimeError) as exc:  # a ConfigError or QueueFull is a ValueError; JobBusy a RuntimeError
            return self._refused([f"Resume {run_id}: {exc}"], 1 + n)
        checkpoint = run.last_checkpoint()
        note = self._queued_card(run.id, "Resuming") or card(
            f"Resumed {run.id} from {checkpoint.name if checkpoint else '?'}.", "info"
        )
        form = self.form.updates(config)
        return (*self.snapshot(user)[1:], gr.Timer(active=True), note, run.id, *form)

    def attached_config(self, user: str | None) -> RunConfig:
        """The config of the job the status reports on (its config.yaml), else the defaults."""
        p = self.studio.progress(user)
        if p.run_dir:
            try:
                return self.studio.run_config(p.run_dir, user)
            except (OSError, ValueError):
                pass
        return RunConfig()

    def on_page_load(self, shown: str, request: gr.Request):
        return self.on_attach(shown, True, user_of(request))

    def on_tab_select(self, shown: str, request: gr.Request):
        return self.on_attach(shown, False, user_of(request))

    def on_attach(self, shown: str, page_load: bool, user: str | None):
        """Page load or tab select: the snapshot, the resumable runs, and the form showing the
        reported job's config: on a page load always, on a tab select when another job runs."""
        p, *views = self.snapshot(user)
        choices = self.studio.resumable_runs(user)
        resumable = (
            gr.update(choices=choices, value=choices[0]) if page_load and choices else gr.update(choices=choices)
        )
        live = p.active or p.waiting
        restore = p.run_dir and p.run_id != shown and (page_load or live)
        form = self.form.updates(self.attached_config(user)) if restore else [gr.skip()] * len(self.form.components)
        return (*views, gr.Timer(active=live), p.run_id if restore else shown, resumable, *form)

    def on_start_yaml(self, text: str, request: gr.Request):
        """For scripts: start a run from a config's YAML text (what ``Save config`` writes)."""
        user = user_of(request)
        try:
            config = RunConfig.from_dict(yaml.safe_load(text) or {})
            self.studio.start_training(config, user)
        except (ValueError, RuntimeError, yaml.YAMLError) as exc:
            raise user_error(str(exc)) from exc
        return status_html(self.studio.progress(user))

    def on_live(self, request: gr.Request):
        """Outputs: GRPO's answers, Start (off while a training of this person's runs), the curves' area
        (shown once they have a run to show)."""
        user = user_of(request)
        p = self.studio.progress(user)
        samples = samples_frame(*self.studio.sampled_answers(p.run_dir, user)) if p.run_dir else samples_frame([], [])
        return samples, gr.update(interactive=not self.studio.trains_for(user)), gr.update(visible=bool(p.run_dir))

    def on_tick(self, request: gr.Request):
        """Outputs: status, plot, log, probes, timer, and (once the job ends) the resumable runs."""
        user = user_of(request)
        p, *shown = self.snapshot(user)
        live = p.active or p.waiting
        choices = [] if live else self.studio.resumable_runs(user)
        ended = gr.skip() if live else gr.update(choices=choices, value=p.run_id if p.run_id in choices else None)
        return (*shown, gr.Timer(active=live), ended)

    def on_stop(self, request: gr.Request):
        """Stop one's own training; with none running, take one's last waiting Start out of the line.
        With nothing of theirs left to show, the status line says what Stop did (not whose training runs)."""
        user = user_of(request)
        said = self.studio.stop(user)
        gr.Info(said)
        p, status, *shown = self.snapshot(user)
        if p.status == "idle":
            status = status_html(dataclasses.replace(p, message=said))
        return status, *shown[:2]

    def on_load_review(self, request: gr.Request):
        user = user_of(request)
        return self.reviewed(self.attached_config(user), [], user)

    def field_notes(self, problems, flagged):
        """Each field's info line: its problem while it has one, its help again once fixed."""
        notes = {}
        for problem in problems:
            if problem.field in self.base_info and problem.field not in notes.keys() | GUIDED:
                notes[problem.field] = ("Error: " if problem.level == "error" else "Warning: ") + problem.message
        updates = [
            gr.update(info=notes[n]) if n in notes else gr.update(info=self.base_info[n]) if n in flagged else gr.skip()
            for n in self.names
        ]
        return updates, sorted(notes)

    def reviewed(self, config: RunConfig, flagged, user: str):
        r = self.studio.review(config, user)
        updates, flagged = self.field_notes(r.problems, flagged or [])
        guide = guide_view(r, config.train.method)
        return review_html(r), command_text(config), r.batch_text, flagged, *guide, *updates

    def filled(self, config: RunConfig, flagged, user: str, note: str = ""):
        """A fill of the form (preset, example, method switch): the note, and the review of the config
        it fills with each field's value and info line, all from one event (``filled_outputs``)."""
        reviewed = self.reviewed(config, flagged, user)
        values = dict(zip(self.form.components, self.form.updates(config), strict=True))
        infos = zip(self.names, reviewed[8:], strict=True)
        return (note, *reviewed[:8], *({**values[n], **info} for n, info in infos))

    def unfilled(self, note: str):
        return (note, *[gr.skip()] * (8 + len(self.names)))

    def on_review(self, request: gr.Request, flagged, *values):
        try:
            config = self.read_config(*values)
        except ValueError as exc:  # a value of the wrong type, named by its field
            field, _, message = str(exc).partition(": ")
            updates, flagged = self.field_notes([Problem(field, message)], flagged or [])
            html = f"<div id='train-review' style='color:#dc2626'>error: {exc}</div>"
            return html, gr.skip(), gr.skip(), flagged, *[gr.skip()] * 4, *updates
        return self.reviewed(config, flagged, user_of(request))

    def on_save(self, *values):
        """Outputs: the YAML file, the message card."""
        try:
            config = self.read_config(*values)
        except ValueError as exc:
            return gr.skip(), card(f"Save config: {exc}")
        path = Path(tempfile.mkdtemp(prefix="studio-config-")) / "run.yaml"
        config.save(path)
        return str(path), ""

    def on_load(self, file):
        """Outputs: every form field, the message card; a file that does not parse changes no field."""
        try:
            config = RunConfig.load(file if isinstance(file, str) else file.name)
        except ValueError as exc:
            return (*[gr.skip()] * len(self.form.components), card(f"Load config: {exc}"))
        return (*self.form.updates(config), "")


def _wire(ui: SimpleNamespace, h: _Handlers, form: Form) -> list:
    ordered = [form.components[n] for n in h.names]
    outputs = [ui.status, ui.plot, ui.log, ui.probes, ui.timer]
    started = [*outputs, ui.message, ui.shown_run]
    live = [ui.samples, ui.start, ui.watch]
    live_then = dict(fn=h.on_live, inputs=None, outputs=live, show_progress="hidden", api_visibility="private")
    ui.start.click(h.on_start, ordered, started, api_name="start_training", show_progress_on=ui.message).then(
        **live_then
    )
    ui.resume.click(
        h.on_resume, ui.resumable, [*started, *form.inputs], api_name="resume_training", show_progress_on=ui.message
    ).then(**live_then)
    yaml_text, yaml_status = gr.Textbox(visible=False), gr.HTML(visible=False)
    gr.Button(visible=False).click(h.on_start_yaml, yaml_text, yaml_status, api_name="train_from_yaml")
    ui.stop.click(h.on_stop, None, [ui.status, ui.plot, ui.log], api_name="stop_training").then(**live_then)
    ui.timer.tick(h.on_tick, None, [*outputs, ui.resumable], api_name="progress")
    gr.on([ui.timer.tick], **live_then)  # on each tick; the last one (the job ended) turns Start on again
    gr.on(None, **live_then)  # on page load: a finished run's curves and answers, a running one's Start off
    shown_for = list(ui.sections.values())
    form.components["method"].change(
        lambda method: [gr.update(visible=method in methods) for methods in shown_for],
        form.components["method"],
        list(ui.sections),
        api_visibility="private",
        show_progress="hidden",
    )
    guide = [ui.guide.card, ui.guide.use_example, ui.guide.use_preset, ui.guide.switch]
    reviewed = [ui.review, ui.command, ui.batch, ui.flagged, *guide, *ordered]
    gr.on(
        [c.change for c in ordered],
        h.on_review,
        [ui.flagged, *ordered],
        reviewed,
        api_name="review_config",
        trigger_mode="always_last",
        show_progress="hidden",
    ).then(stale_refusal, [ui.message, ui.flagged], ui.message, api_visibility="private", show_progress="hidden")
    # On page load: the review of what the form shows (the running job's config, else the defaults).
    gr.on(None, h.on_load_review, None, reviewed, show_progress="hidden")
    ui.save.click(h.on_save, ordered, [ui.config_file, ui.message], api_name="save_config")
    ui.load.upload(h.on_load, ui.load, [*form.inputs, ui.message])
    wire_guide(ui, h, ordered, [ui.message, *reviewed])
    ui.alpha2r.click(lambda r: 2 * int(r or 0), form.components["lora_r"], form.components["lora_alpha"])
    attached = [*outputs, ui.shown_run, ui.resumable, *form.inputs]
    return attached


def build(studio: Studio, data_components: dict | None = None) -> dict:
    defaults = RunConfig()
    form = Form()
    ui = build_layout(studio, form, defaults)
    _tune_components(form, studio.device().kind)
    studio.warm_up()  # before any handler thread imports the model libraries
    handlers = _Handlers(studio, form)
    outputs = _wire(ui, handlers, form)
    if data_components:
        # What the Data tab loaded with success flows into the form (so the previewed data is
        # what trains); a failed load, or a value only typed there, leaves the form as it was.
        targets = [form.components[n] for n in ("dataset", "format", "columns", "system_prompt")]
        for event in data_components["loaded_events"]:
            event.success(loaded_params, data_components["loaded"], targets, api_visibility="private")
    return {
        "form": form,
        "status": ui.status,
        "plot": ui.plot,
        "log": ui.log,
        "timer": ui.timer,
        "review": ui.review,
        "attach": ((handlers.on_page_load, handlers.on_tab_select), ui.shown_run, outputs),
    }
