"""build_app(): the Blocks with one tab per module; only app.py launches it."""

from __future__ import annotations

import importlib

import gradio as gr

from studio.services import Studio, get_studio
from studio.ui import chat_tab, data_tab, train_tab

# Tabs after Chat, each a module with build(studio) -> dict, added as they are written.
LATER_TABS = [("Runs", "runs_tab"), ("Evaluate", "evaluate_tab"), ("Export", "export_tab")]

TITLE = "Fine-tuning Studio"
INTRO = (
    "Take a base model and a dataset, fine-tune it with LoRA, QLoRA or fully (SFT or DPO), "
    "and compare the result with the base, without writing code. Everything here also runs headless: "
    "`python -m studio --help`."
)


def build_app(studio: Studio | None = None) -> gr.Blocks:
    studio = studio or get_studio()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Tabs():
            with gr.Tab("Data", id="data"):
                data = data_tab.build(studio)
            with gr.Tab("Train", id="train") as train_page:
                train = train_tab.build(studio, data)
            with gr.Tab("Chat", id="chat") as chat_page:
                chat = chat_tab.build(studio)
            for title, name in LATER_TABS:
                try:
                    module = importlib.import_module(f"studio.ui.{name}")
                except ModuleNotFoundError as exc:
                    if exc.name != f"studio.ui.{name}":
                        raise
                    continue
                with gr.Tab(title, id=name.removesuffix("_tab")):
                    module.build(studio)
        # A reloaded page (or a second tab) re-attaches to the running job, whole curve included.
        on_tick, outputs = train["attach"]
        demo.load(on_tick, None, outputs)
        train_page.select(on_tick, None, outputs)  # e.g. after a resume from the Runs tab
        refresh, adapter = chat["refresh"]
        chat_page.select(refresh, adapter, adapter)
    return demo
