"""build_app(): the Blocks with one tab per module; only app.py launches it."""

from __future__ import annotations

import gradio as gr

from studio.services import Studio, get_studio
from studio.ui import chat_tab, data_tab, evaluate_tab, export_tab, runs_tab, train_tab

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
            with gr.Tab("Runs", id="runs"):
                runs_tab.build(studio)
            with gr.Tab("Evaluate", id="evaluate"):
                evaluate_tab.build(studio)
            with gr.Tab("Export", id="export"):
                export_tab.build(studio)
        # A reloaded page (or a second tab) re-attaches to the running job, whole curve included.
        on_tick, outputs = train["attach"]
        demo.load(on_tick, None, outputs)
        train_page.select(on_tick, None, outputs)  # e.g. after a resume from the Runs tab
        refresh, adapter = chat["refresh"]
        chat_page.select(refresh, adapter, adapter)
    return demo
