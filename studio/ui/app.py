"""build_app(): the Blocks with one tab per module; only app.py launches it."""

from __future__ import annotations

import gradio as gr

from studio.services import Studio, get_studio
from studio.ui import chat_tab, data_tab, evaluate_tab, export_tab, runs_tab, train_tab
from studio.ui.space import hf_sign_in

TITLE = "Fine-tuning Studio"
INTRO = (
    "Take a base model and a dataset, fine-tune it with LoRA, QLoRA or fully (SFT, DPO, ORPO, KTO, a reward model or GRPO), "
    "and compare the result with the base, without writing code. Everything here also runs headless: "
    "`python -m studio --help`."
)
# The first screen: what a newcomer does, in order; the sample's preview is already below it.
FIRST_STEPS = """<div id='first-steps'><b>New here? Three steps, about five minutes on a laptop CPU:</b>
<ol style='margin:4px 0 0 0'>
<li><b>Look at the data</b>: the sample dataset is previewed below, with the exact text the model trains on
(green: the tokens that carry the loss).</li>
<li><b>Train</b>: in the <b>Train</b> tab, pick the preset <i>Quick CPU demo: LoRA SFT</i>, press
<b>Fill the form</b>, then <b>Start training</b>, and watch the curves.</li>
<li><b>Compare</b>: in the <b>Chat</b> tab, ask the base model and your adapter the same question side by side.</li>
</ol></div>"""


def build_app(studio: Studio | None = None) -> gr.Blocks:
    studio = studio or get_studio()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        if hf_sign_in():  # a Space with hf_oauth: each person's runs are their own
            gr.LoginButton(size="sm")
        gr.HTML(FIRST_STEPS)
        with gr.Tabs():
            with gr.Tab("Data", id="data"):
                data = data_tab.build(studio)
            with gr.Tab("Train", id="train") as train_page:
                train = train_tab.build(studio, data)
            with gr.Tab("Chat", id="chat") as chat_page:
                chat = chat_tab.build(studio)
            with gr.Tab("Runs", id="runs") as runs_page:
                runs = runs_tab.build(studio)
            with gr.Tab("Evaluate", id="evaluate") as evaluate_page:
                evaluate = evaluate_tab.build(studio)
            with gr.Tab("Export", id="export") as export_page:
                export = export_tab.build(studio, sampling=chat["sampling"])
        # A reloaded page (or a second tab) re-attaches to the running job, whole curve included.
        # The form shows the config of the job the status reports on (restored from its config.yaml).
        (on_page_load, on_tab_select), shown, outputs = train["attach"]
        demo.load(on_page_load, shown, outputs)
        train_page.select(on_tab_select, shown, outputs)  # e.g. after a Runs-tab resume
        on_load, inputs, previewed = data["preview"]
        demo.load(on_load, inputs, previewed, show_progress="hidden")  # step 1, already shown
        refresh, adapter = chat["refresh"]
        chat_page.select(refresh, adapter, adapter)
        # Opening a tab offers the runs that exist now (one finished since the page opened, too).
        for page, tab in ((evaluate_page, evaluate), (export_page, export)):
            refresh, run = tab["refresh"]
            page.select(refresh, run, run, api_visibility="private", show_progress="hidden")
        refresh, listing = runs["refresh"]
        runs_page.select(refresh, listing[1], listing, api_visibility="private", show_progress="hidden")
    return demo
