"""Chat tab: two or three columns (the base, adapters, checkpoints, full fine-tunes) answer the
same turn side by side, streamed, with the same seed; an arena vote per turn, a window on the
next-token distribution, and the conversation as JSON.

All columns share one loaded base model (adapters are switched in per token) and sample with
the same seed, so the comparison is fair and repeatable. Scripts call ``/chat``.
"""

from __future__ import annotations

import json
import tempfile
import time
from functools import partial
from pathlib import Path

import gradio as gr

from studio.services import Sampling, Studio, count_pairs
from studio.ui.errors import card, user_error
from studio.ui.forms import Form
from studio.ui.space import user_of

BASE, OFF = "base", "off"
NO_ADAPTER = "(none: base only)"  # what older scripts send for "no adapter"
COLUMNS = 3
CHART_FIELDS = ("temperature", "top_k", "top_p", "repetition_penalty", "greedy")


def build(studio: Studio) -> dict:
    form = Form()
    ui = _layout(form)
    actions = ChatActions(studio, form)
    _wire(ui, actions, form)
    _wire_api(studio, ui["pickers"][1], ui["system"], form)
    return {
        "adapter": ui["pickers"][1],
        "refresh": (lambda n: (n or 0) + 1, ui["opened"]),
        "sampling": form,  # the Export tab writes these settings into an Ollama Modelfile
    }


def _layout(form: Form) -> dict:
    """The columns first (each its picker above its replies; on a phone they stack, full width),
    then the message box and what reads the replies; the settings at the side (on a phone, below)."""
    ui: dict = {}
    with gr.Row():
        with gr.Column(scale=3):
            _columns(ui)
            with gr.Row():
                ui["message"] = gr.Textbox(placeholder="Ask every column...", show_label=False, scale=5, min_width=240)
                ui["send"] = gr.Button("Send", variant="primary", scale=1, min_width=80)
                ui["regenerate"] = gr.Button("Regenerate", scale=1, min_width=110)
                ui["clear"] = gr.Button("Clear", scale=1, min_width=80)
            ui["note"] = gr.HTML(elem_id="chat-note")  # a refused action says why here, nothing else changes
            with gr.Row():
                ui["votes"] = [
                    gr.Button(f"Column {i + 1} answered better", size="sm", visible=i < 2) for i in range(COLUMNS)
                ]
            ui["arena"] = gr.Markdown(elem_id="arena-status")
            with gr.Accordion("Next-token distribution: how the sliders shape the choice", open=True):
                gr.Markdown(
                    "The most likely first tokens of the reply, per column: outlined at temperature 1 (the model), "
                    "filled at the current temperature; green tokens are the ones sampling draws from, amber ones "
                    "top-p cuts, grey ones top-k cuts. Moves with the sliders. It explains the last reply, or the "
                    "typed message once you press the button."
                )
                ui["chart"] = gr.Plot(label="Next-token candidates", elem_id="next-token-chart")
                ui["show"] = gr.Button("Show for the typed message", size="sm")
            with gr.Accordion("Export", open=False):
                ui["export"] = gr.Button("Export the conversation as JSON", size="sm")
                ui["exported"] = gr.File(label="Conversation", interactive=False)
        with gr.Column(scale=1, min_width=280):
            ui["refresh"] = gr.Button("Refresh runs", size="sm")
            ui["system"] = gr.Textbox(label="System prompt", lines=2, info="Empty: the chat template's default.")
            form.add(Sampling())
            ui["memory"] = gr.Markdown(elem_id="chat-memory")
            ui["unload"] = gr.Button("Unload models (free memory)", size="sm")
    # Opening the tab bumps this counter (app.py wires the tab's select to "refresh"), and its
    # change refreshes every column's choices: runs finished since are offered at once.
    ui["opened"] = gr.State(0)
    return ui


def _columns(ui: dict) -> None:
    """Three columns side by side, each at least 300 px wide: a narrower screen stacks them."""
    first = [("Base model", BASE)]
    choices = [(first, BASE), (first, BASE), ([("(off)", OFF)], OFF)]
    ui["pickers"], ui["chats"] = [], []
    with gr.Row():
        for i, (options, value) in enumerate(choices):
            with gr.Column(min_width=300):
                picker = gr.Dropdown(options, value=value, label=f"Column {i + 1}", allow_custom_value=True)
                label = "Base model" if i < 2 else "Column 3"
                chat = gr.Chatbot(label=label, height=400, elem_id=f"chat-{i + 1}", visible=i < 2)
            ui["pickers"].append(picker)
            ui["chats"].append(chat)


def _wire(ui: dict, actions: ChatActions, form: Form) -> None:
    pickers, chats, memory, chart = ui["pickers"], ui["chats"], ui["memory"], ui["chart"]
    state = [*pickers, ui["system"]]
    model = dict(concurrency_id="model", api_name=False)
    chart_inputs = [*state, ui["message"], *chats, *form.inputs]
    reply_inputs = [*state, *chats, *form.inputs]
    note = ui["note"]
    for trigger in (ui["send"].click, ui["message"].submit):
        trigger(actions.add_user, [ui["message"], *chats], [ui["message"], *chats, note], queue=False).then(
            actions.respond, reply_inputs, [*chats, memory, note], **model
        ).then(actions.chart, chart_inputs, chart, **model)
    seed = form.components["seed"]
    ui["regenerate"].click(actions.drop_last_reply, [seed, *chats], [seed, *chats, note], queue=False).then(
        actions.respond, reply_inputs, [*chats, memory, note], **model
    ).then(actions.chart, chart_inputs, chart, **model)
    ui["clear"].click(lambda: ([], [], [], "", ""), None, [*chats, ui["arena"], note], api_name="clear_chat")
    for k, button in enumerate(ui["votes"]):
        vote = partial(actions.vote, k)
        button.click(vote, [*state, *chats], [ui["arena"], note], api_name=f"vote_column_{k + 1}")
    for name in CHART_FIELDS:
        form.components[name].change(actions.chart, chart_inputs, chart, **model)
    ui["show"].click(
        actions.chart_typed, chart_inputs, [chart, note], concurrency_id="model", api_name="next_token_chart"
    )
    ui["export"].click(actions.export, reply_inputs, ui["exported"], api_name="export_chat")
    ui["unload"].click(actions.unload, None, memory, concurrency_id="model", api_name="unload_models")
    ui["refresh"].click(actions.refresh_all, pickers, pickers, api_name=False)
    gr.Button(visible=False).click(actions.refresh, pickers[1], pickers[1], api_name="refresh_adapters")
    ui["opened"].change(actions.opened, pickers, [*pickers, memory], api_name=False)
    for picker in pickers:
        picker.change(actions.pick, pickers, [*chats, *ui["votes"], memory], api_name=False)


class ChatActions:
    """The Chat tab's handlers: thin, each calls the services and shapes the components' values.

    Handlers receive the column pickers (c1, c2, c3), the system prompt, the three chat
    histories (h1, h2, h3) and the sampling form's values, in the order ``_wire`` gives them.
    """

    def __init__(self, studio: Studio, form: Form):
        self.studio = studio
        self.form = form

    # -- columns -----------------------------------------------------------------------------
    def choices(self, third: bool = False, user: str | None = None) -> list[tuple[str, str]]:
        """The base and the adapters of the runs ``user`` may see (their own, and the shared ones)."""
        base = [("(off)", OFF)] if third else []
        return [*base, ("Base model", BASE), *self.studio.adapter_choices(user)]

    def refresh(self, current, request: gr.Request):
        """Column 2's choices; its value becomes the newest adapter unless it names a valid one."""
        options = self.choices(user=user_of(request))
        values = [v for _, v in options]
        keep = current in values and current != BASE
        return gr.update(choices=options, value=current if keep else (values[1] if len(values) > 1 else BASE))

    def refresh_all(self, request: gr.Request, *current):
        first, third = (gr.update(choices=self.choices(i == 2, user_of(request))) for i in (0, 2))
        return first, self.refresh(current[1], request), third

    def opened(self, request: gr.Request, *current):
        return *self.refresh_all(request, *current), self.memory_text()

    def label_of(self, value) -> str:
        if value in (BASE, NO_ADAPTER, None, ""):
            return "Base model"
        return dict((v, label) for label, v in self.choices()).get(value, Path(str(value)).name)

    def columns(self, *picked) -> list[tuple[int, str | None, str]]:
        """(column index, source folder or None for the base, label) of the active columns."""
        out = []
        for i, value in enumerate(picked):
            if value in (OFF, None, "") or (i == 2 and value == NO_ADAPTER):
                continue
            source = None if value in (BASE, NO_ADAPTER) else value
            out.append((i, source, self.label_of(value)))
        return out

    def pick(self, *picked):
        active = {i for i, _, _ in self.columns(*picked)}
        labels = [gr.update(label=self.label_of(v), visible=i in active) for i, v in enumerate(picked)]
        return [*labels, *(gr.update(visible=i in active) for i in range(COLUMNS)), self.memory_text()]

    def memory_text(self) -> str:
        return _memory_markdown(self.studio.chat_memory())

    @staticmethod
    def conversations(system_prompt, histories, active) -> list[list[dict]]:
        prefix = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
        return [prefix + [_turn(m) for m in histories[i] or []] for i, _, _ in active]

    # -- turns -------------------------------------------------------------------------------
    @staticmethod
    def add_user(text, *histories):
        """The typed message into every column (``respond`` then answers it); a card if nothing is typed."""
        if not text.strip():
            return gr.skip(), *[gr.skip()] * len(histories), card("Message: type something first, then Send.")
        turn = {"role": "user", "content": text}
        return "", *[[*(h or []), turn] for h in histories], ""

    def respond(self, request: gr.Request, c1, c2, c3, system_prompt, h1, h2, h3, *sampling_values):
        histories = [list(h or []) for h in (h1, h2, h3)]
        active = self.columns(c1, c2, c3)
        sampling = Sampling(**self.form.values(sampling_values))
        talks = self.conversations(system_prompt, histories, active)
        if not talks or not talks[0] or talks[0][-1]["role"] != "user":
            yield *[gr.skip()] * (COLUMNS + 1), gr.skip()  # nothing to answer (an empty Send said so already)
            return
        for i, _, _ in active:
            histories[i].append({"role": "assistant", "content": ""})
        try:
            for texts in self.studio.chat_stream(talks, [s for _, s, _ in active], sampling, user_of(request)):
                for (i, _, _), text in zip(active, texts, strict=True):
                    histories[i][-1]["content"] = text
                yield *histories, self.memory_text(), ""
        except ValueError as exc:  # e.g. an adapter deleted meanwhile: the question stays, unanswered
            for i, _, _ in active:
                histories[i].pop()
            yield *histories, self.memory_text(), card(str(exc))
            return
        yield *histories, self.memory_text(), ""

    @staticmethod
    def drop_last_reply(seed, *histories):
        """Regenerate: the last replies go, the seed moves on (so the new replies differ, reproducibly)."""
        trimmed = [list(h or [])[:-1] if h and h[-1]["role"] == "assistant" else list(h or []) for h in histories]
        if not any(trimmed):
            return gr.skip(), *[gr.skip()] * len(histories), card("Regenerate: send a message first.")
        return int(seed or 0) + 1, *trimmed, ""

    def vote(self, k, c1, c2, c3, system_prompt, h1, h2, h3):
        histories, active = [h1, h2, h3], self.columns(c1, c2, c3)
        position = next((n for n, (i, _, _) in enumerate(active) if i == k), None)
        if position is None:
            return gr.skip(), card(f"Column {k + 1} is off: pick a model for it, or vote for another column.")
        talks = self.conversations(system_prompt, histories, active)
        if not talks[position] or talks[position][-1]["role"] != "assistant":
            return gr.skip(), card("Vote once every column has answered.")
        answers = [(label, talk[-1]["content"]) for (_, _, label), talk in zip(active, talks, strict=True)]
        try:
            written = self.studio.vote(talks[position][:-1], answers, position, {"system_prompt": system_prompt})
        except ValueError as exc:
            return gr.skip(), card(str(exc))
        return _arena_markdown(written, self.studio.arena_path), ""

    # -- the sampling window, export, memory ---------------------------------------------------
    def chart(self, request: gr.Request, c1, c2, c3, system_prompt, text, h1, h2, h3, *sampling_values, typed=False):
        active = self.columns(c1, c2, c3)
        talks = self.conversations(system_prompt, [h1, h2, h3], active)
        if typed and text.strip():
            talks = [[*t, {"role": "user", "content": text}] for t in talks]
        else:  # the last reply's first token: the conversation up to its question
            talks = [t[:-1] if t and t[-1]["role"] == "assistant" else t for t in talks]
        if not talks or not talks[0] or talks[0][-1]["role"] != "user":
            return (gr.skip(), card("Message: type something first, then show its chart.")) if typed else gr.skip()
        try:
            sampling = Sampling(**self.form.values(sampling_values))
            sources, labels = [s for _, s, _ in active], [lbl for _, _, lbl in active]
            figure = self.studio.next_token_figure(talks, sources, labels, sampling, user_of(request))
        except ValueError as exc:  # a slider's change redraws silently; the button says why
            return (gr.skip(), card(str(exc))) if typed else gr.skip()
        return (figure, "") if typed else figure

    def chart_typed(self, request: gr.Request, *args):
        return self.chart(request, *args, typed=True)

    def export(self, c1, c2, c3, system_prompt, h1, h2, h3, *sampling_values):
        active = self.columns(c1, c2, c3)
        talks = self.conversations(system_prompt, [h1, h2, h3], active)
        columns = [
            {"label": lbl, "source": s or BASE, "messages": t} for (_, s, lbl), t in zip(active, talks, strict=True)
        ]
        data = {
            "exported": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "system_prompt": system_prompt,
            "sampling": self.form.values(sampling_values),
            "columns": columns,
        }
        path = Path(tempfile.mkdtemp(prefix="studio-chat-")) / "conversation.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
        return str(path)

    def unload(self):
        freed = self.studio.unload_models()
        return f"Unloaded: {freed / 2**20:.0f} MB of weights given back.\n\n{self.memory_text()}"


def _wire_api(studio: Studio, adapter, system, form: Form) -> None:
    """``/chat`` for scripts: one turn, base and one adapter, returns (base reply, adapter reply)."""

    def api_chat(request: gr.Request, prompt, adapter_dir, system_prompt, *sampling_values):
        if not prompt.strip():
            raise user_error("prompt: type a message")
        sampling = Sampling(**form.values(sampling_values))
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt.strip() else []) + [
            {"role": "user", "content": prompt}
        ]
        sources = [None] if adapter_dir in (None, "", BASE, NO_ADAPTER) else [None, adapter_dir]
        try:
            *_, texts = studio.chat_stream(messages, sources, sampling, user_of(request))
        except ValueError as exc:
            raise user_error(str(exc)) from exc
        return texts[0], texts[1] if len(texts) > 1 else "(choose an adapter to compare)"

    api_prompt = gr.Textbox(visible=False)
    api_base, api_adapter = gr.Textbox(visible=False), gr.Textbox(visible=False)
    gr.Button(visible=False).click(
        api_chat,
        [api_prompt, adapter, system, *form.inputs],
        [api_base, api_adapter],
        api_name="chat",
        concurrency_id="model",
    )


def _turn(message: dict) -> dict:
    return {"role": message["role"], "content": _text(message["content"])}


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio may hand back message content as parts
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def _memory_markdown(m: dict) -> str:
    if not m.get("base"):
        text = "No model loaded yet: the first message loads the base."
    else:
        mb = 2**20
        text = f"In memory: **{m['base']}** ({m['dtype']}, {m['base_bytes'] / mb:.0f} MB)"
        if m["adapters"]:
            how = "merged copies, switched by swapping weights" if m["adapter_mode"] == "merged" else "PEFT, switched"
            text += f"; {len(m['adapters'])} adapter(s), {how} (+{m['adapter_bytes'] / mb:.0f} MB)"
        for folder, size in m["full_models"].items():
            text += f"; full fine-tune **{Path(folder).parent.name}** as a second model (+{size / mb:.0f} MB)"
        if m.get("backend") == "llama.cpp":
            text += (
                f"; replies decode in llama.cpp from GGUF copies of these weights ({m['gguf_ready']} written; "
                "a source's first turns decode here while its copy is written)"
            )
    if m.get("training"):
        text += (
            "\n\nA training is running. Chat uses its own copy of the model and never touches the trainer's "
            "weights, so it is safe; both share the processor, so replies and training steps are slower meanwhile."
        )
    else:
        text += (
            "\n\nChat keeps its own copy of the weights: a training never shares them. "
            "Evaluation uses these same weights, so chat waits while it runs."
        )
    return text


def _arena_markdown(written: int, path) -> str:

    what = f"Recorded {written} preference pair{'s' * (written != 1)}" if written else "This vote was already recorded"
    total = count_pairs(path)
    return (
        f"{what}. `{path}` holds {total} pair{'s' * (total != 1)} (prompt, chosen, rejected): open it in the "
        "Data tab and train with method dpo (or orpo, reward); `kto.jsonl` beside it holds each voted answer with a "
        "good/bad label for method kto."
    )
