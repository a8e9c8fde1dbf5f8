"""The tabs' handlers called directly (no server): refusals are cards in place, not error pills.

Issue 12: a refused Start covers nothing, the form shows the job it reports on, a preset keeps the
user's dataset, the probe table's key column comes second, empty plots say what will appear there.
"""

import logging

import gradio as gr
import pytest

from studio.config import RunConfig
from studio.runs.curves import COLORS, training_figure
from studio.runs.directory import new_run
from studio.services import Studio
from studio.train.jobs.progress import Progress
from studio.ui import data_tab, export_tab, runs_tab, train_tab
from studio.ui.errors import user_error
from studio.ui.train_guide import GuideHandlers
from studio.ui.train_tab import field_order
from studio.ui.train_views import probe_columns

from .conftest import REAL_DATA


def skipped(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and value.get("value", None) is None


@pytest.fixture
def train(tmp_path):
    studio = Studio(tmp_path / "runs")
    with gr.Blocks():
        built = train_tab.build(studio)
    handlers = built["attach"][0][0].__self__  # (on_page_load, on_tab_select): bound methods
    values = {n: built["form"].components[n].value if n != "run_name" else "" for n in field_order()}
    values["run_name"] = built["form"].components["run_name"].value
    return studio, handlers, values


def test_user_error_logs_one_line_and_no_traceback(caplog):
    with caplog.at_level(logging.INFO, logger="studio.ui"):
        error = user_error("batch_size: 0 is below the minimum 1")
    assert isinstance(error, gr.Error) and error.print_exception is False
    assert [r.levelname for r in caplog.records] == ["INFO"] and "batch_size" in caplog.text


def test_refused_start_is_a_card_and_covers_nothing(train):
    studio, handlers, values = train
    values["batch_size"] = 0
    status, plot, log, probes, timer, message, shown = handlers.on_start(None, *values.values())  # no gr.Error raised
    assert all(skipped(v) for v in (status, plot, log, probes, timer, shown))  # the last run's results stay
    assert "batch_size" in message and "studio-card-error" in message and "press Start again" in message
    assert studio.progress().status == "idle"


def test_the_form_shows_the_config_of_the_job_it_reports_on(train, monkeypatch):
    studio, handlers, _ = train
    config = RunConfig(run_name="reported")
    config.train.max_steps, config.train.batch_size = 40, 3
    run = new_run(config, studio.root)
    monkeypatch.setattr(
        studio, "progress", lambda user=None: Progress(run_id=run.id, run_dir=str(run.path), status="running", step=5)
    )
    out = handlers.on_attach("", page_load=True, user="local")
    names = list(handlers.form.components)
    form = dict(zip(names, out[-len(names) :], strict=True))
    assert form["max_steps"]["value"] == 40 and form["batch_size"]["value"] == 3
    assert out[5] == run.id  # the run the form shows
    # A tab select while the same job runs leaves the user's edits alone.
    again = handlers.on_attach(run.id, page_load=False, user="local")
    assert all(skipped(v) for v in again[-len(names) :])
    assert handlers.attached_config("local").train.max_steps == 40  # what the page-load review checks


def _fill(handlers, fill, *args, **changes):
    """Call a fill handler of the guide with the form's values changed; its outputs by name."""
    out = fill(*args, None, [], *(_form_values(handlers) | changes).values())
    note, review, _, batch, _, guide, *buttons = out[:9]
    return note, review, batch, guide, buttons, dict(zip(handlers.names, out[9:], strict=True))


def test_a_preset_keeps_the_dataset_the_user_chose_and_says_so(train, tmp_path):
    _, handlers, _ = train
    mine = tmp_path / "mine.csv"
    mine.write_text("question,output\nCapital of Peru?,Lima.\nCapital of Chile?,Santiago.\n")
    guide = GuideHandlers(handlers)
    changes = {"dataset": str(mine), "format": "alpaca", "columns": "instruction=question"}
    note, _, _, _, _, form = _fill(handlers, guide.on_preset, "Quick CPU demo: LoRA SFT", **changes)
    assert form["dataset"]["value"] == str(mine) and form["format"]["value"] == "alpaca"
    assert form["max_steps"]["value"] == 40  # the rest of the preset is applied
    assert f"Kept your dataset {mine}" in note
    note, *_, form = _fill(handlers, guide.on_preset, "Quick CPU demo: LoRA DPO", dataset=RunConfig().data.dataset)
    assert form["dataset"]["value"] == "assets/sample_dpo.jsonl" and note == ""


def test_a_preset_replaces_another_preset_s_dataset_and_the_review_follows(train):
    """Issue 33: GRPO preset, then SFT preset: the SFT sample, and the review of the SFT plan at once."""
    _, handlers, _ = train
    guide = GuideHandlers(handlers)
    _, _, batch, _, _, form = _fill(handlers, guide.on_preset, "Quick CPU demo: GRPO arithmetic")
    assert form["dataset"]["value"] == "assets/arithmetic_grpo.jsonl" and form["batch_size"]["value"] == 2
    assert "Effective batch 2 x 1" in batch and "240 training rows" in batch and "**40 steps**" in batch
    grpo = {n: f["value"] for n, f in form.items()}
    note, _, batch, guide_card, _, form = _fill(handlers, guide.on_preset, "Quick CPU demo: LoRA SFT", **grpo)
    assert form["dataset"]["value"] == "assets/sample_sft.jsonl" and form["method"]["value"] == "sft"
    assert form["val_dataset"]["value"] == "" and note == "" and guide_card == ""
    assert "Effective batch 4 x 1" in batch and "**40 steps**" in batch


def test_a_method_its_data_cannot_feed_offers_the_example_and_preset(train):
    _, handlers, _ = train
    guide = GuideHandlers(handlers)
    outputs = handlers.on_review(None, [], *{**_form_values(handlers), "method": "dpo"}.values())
    card, example, preset, switch = outputs[4:8]
    assert "DPO needs preference pairs" in card and "assets/sample_dpo.jsonl" in card
    assert example["visible"] and "assets/sample_dpo.jsonl" in example["value"]
    assert preset["visible"] and "Quick CPU demo: LoRA DPO" in preset["value"] and not switch["visible"]
    fields = dict(zip(handlers.names, outputs[8:], strict=True))
    assert "info" not in fields["method"]  # the method's explanation stays
    note, _, batch, card, _, form = _fill(handlers, guide.on_example, method="dpo")
    assert form["dataset"]["value"] == "assets/sample_dpo.jsonl" and form["method"]["value"] == "dpo"
    assert card == "" and note == ""  # the card goes; a note of an earlier fill goes too
    note, _, _, card, _, form = _fill(handlers, guide.on_method_preset, method="kto")
    assert form["method"]["value"] == "kto" and form["dataset"]["value"] == "assets/sample_dpo.jsonl" and card == ""


def test_preference_pairs_on_sft_suggest_dpo_with_a_switch(train):
    _, handlers, _ = train
    pairs = str(REAL_DATA / "dpo_en_demo.json")
    outputs = handlers.on_review(None, [], *{**_form_values(handlers), "dataset": pairs}.values())
    card, example, _, switch = outputs[4:8]
    assert "preference pairs" in card and "DPO" in card and not example["visible"]
    assert switch["visible"] and switch["value"] == "Switch Method to DPO"
    _, _, _, card, _, form = _fill(handlers, GuideHandlers(handlers).on_switch, dataset=pairs)
    assert form["method"]["value"] == "dpo" and form["dataset"]["value"] == pairs and card == ""


def _form_values(handlers) -> dict:
    return {n: handlers.form.components[n].value for n in handlers.names}


def test_stop_of_ones_own_waiting_start_says_so(train, monkeypatch):
    """Stop takes one's waiting Start out of the line, and the status line says that, not whose
    training runs (the only thing left to show once one's own run is gone)."""
    studio, handlers, _ = train
    mine = new_run(RunConfig(), studio.root)
    left = [mine]
    monkeypatch.setattr(studio, "stop_training", lambda user=None: False)  # Alice's job: not Bob's to stop
    monkeypatch.setattr(studio.queue, "waiting", lambda user=None: list(left))
    monkeypatch.setattr(studio.queue, "cancel", lambda run_id, user=None: left.pop())
    busy = Progress(message="Another person's training is running; a Start now waits in the queue for it.")
    monkeypatch.setattr(studio, "progress", lambda user=None: busy)
    status, *_ = handlers.on_stop(None)
    assert f"Took {mine.id} out of the queue." in status and "Another person" not in status
    assert left == []


def test_resume_of_nothing_is_a_card(train):
    _, handlers, _ = train
    *views, message, shown, form0 = handlers.on_resume(None, None)[:8]
    assert all(skipped(v) for v in views) and "Interrupted run: pick one" in message


def test_probe_table_shows_the_latest_answer_second():
    headers, rows = probe_columns(["prompt", "base", "step 10"], [["Who are you?", "A model.", "Arr, a pirate."]])
    assert headers == ["prompt", "step 10", "base"] and rows == [["Who are you?", "Arr, a pirate.", "A model."]]
    headers, rows = probe_columns(["prompt", "base", "current"], [])
    assert len(rows) == 1 and "evaluation" in rows[0][1]  # an empty table says what will appear


def test_curves_empty_state_axis_titles_and_stable_colours():
    empty = training_figure([])
    assert not empty.data and "appear here" in empty.layout.annotations[0].text
    first = [{"step": 1, "loss": 2.0, "learning_rate": 1e-3, "grad_norm": 1.0}]
    later = first + [{"step": 2, "eval_loss": 1.9}]
    colour = {t.name: t.line.color for t in training_figure(first).data}
    colour_later = {t.name: t.line.color for t in training_figure(later).data}
    assert colour["train loss"] == colour_later["train loss"] == COLORS["loss"]
    assert colour_later["eval loss"] == COLORS["eval_loss"] != colour["train loss"]
    fig = training_figure(later)
    assert fig.layout.xaxis.title.text is None and fig.layout.xaxis3.title.text == "step"


def test_an_all_zero_metric_draws_no_empty_panel():
    from studio.evaluate.report import results_figure

    fig = results_figure({"base": {"rouge_l": 0.2, "exact_match": 0.0}, "adapter": {"rouge_l": 0.4, "exact_match": 0}})
    titles = [a.text for a in fig.layout.annotations]
    assert "Exact match" not in titles and "0 for both" in fig.layout.title.text


def test_runs_tab_resume_refusal_is_a_card_and_the_listing_keeps_the_message(tmp_path):
    handlers = runs_tab._Handlers(Studio(tmp_path / "runs"))
    message = handlers.resume("no-such-run", None)  # None: no gr.Request, the local person
    assert "studio-card-error" in message and "no-such-run" in message
    assert len(handlers.relist(None, None)) == 3  # table, run, compared: the message is not an output


def test_a_failed_push_empties_the_token_and_shows_a_card(tmp_path):
    studio = Studio(tmp_path / "runs")
    with gr.Blocks():
        ui = export_tab._layout()
    values = [c.value for c in ui.form.inputs]
    _, _, note, token, _ = export_tab._push_handler(studio, ui.form)(None, None, "tuned", "hf_secret", *values)
    assert token == "" and "Pick a run first" in note and "studio-card-error" in note


def test_a_one_row_dataset_previews(tmp_path, tiny_model_dir):
    one = tmp_path / "one.jsonl"
    one.write_text('{"instruction": "Capital of Peru?", "output": "Lima."}\n')
    with gr.Blocks():
        built = data_tab.build(Studio(tmp_path / "runs"))
    on_load = built["preview"][0]
    summary, table, slider, *_ = on_load(str(one), "auto", "", "", str(tiny_model_dir), 64)
    assert "1 rows" in summary
    assert slider["maximum"] > 1 and slider["interactive"] is False  # Gradio wants minimum < maximum


def test_a_ragged_csv_names_its_line(tmp_path):
    from studio.data import DataError, load_data

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("instruction,output\na,b\nc,d,e\nf,g\n")
    with pytest.raises(DataError, match="line 3 has 3 fields where the header has 2"):
        load_data(str(ragged))


def test_evaluate_tab_empty_state_says_what_will_appear():
    from studio.ui import evaluate_tab

    status, table, chart, generations, files = evaluate_tab._empty()
    assert table["headers"] == ["metric", "base", "adapter"]  # not Gradio's bare "1 2 3"
    assert generations["headers"] == ["prompt", "reference", "base", "adapter"]
    assert "appear here after an evaluation" in chart.layout.annotations[0].text


def test_the_train_tab_shows_grpo_s_latest_answers_best_first(train):
    from studio.runs import completions
    from studio.runs.directory import new_run
    from studio.train.jobs.progress import Tracker

    studio, handlers, _ = train
    table, start, watch = handlers.on_live(None)
    assert table.visible is False and watch["visible"] is False  # no run: no table, no curves to watch
    run = new_run(RunConfig(), studio.root)
    studio.jobs.run, studio.jobs._tracker = run, Tracker(run.id, str(run.path))  # the job the tab reports on
    table, start, watch = handlers.on_live(None)
    assert table.visible is False  # a run that samples nothing (not GRPO)
    assert watch["visible"] and start["interactive"]  # its curves show; Start is on (nothing trains)
    rows = [
        {"step": s, "mode": m, "prompt": "2+2?", "completion": c, "rewards": {"exact_answer": t}, "total": t}
        for s, m, c, t in [
            (1, "train", "4", 1.0),
            (2, "train", "5", 0.0),
            (2, "train", "4", 1.0),
            (2, "eval", "x", 0.5),
        ]
    ]
    completions.append(run.path, rows)
    table = handlers.on_live(None)[0]  # the answer and its rewards first, then the prompt and the step
    assert table.visible and table.value["headers"] == ["answer", "total", "exact_answer", "prompt", "step"]
    assert table.value["data"] == [["4", 1.0, 1.0, "2+2?", 2], ["5", 0.0, 0.0, "2+2?", 2]]
    assert table.column_widths[0] == "40%"


def test_wide_tables_give_every_column_its_share():
    """Config differences: every compared run's column, in equal shares; the first rows: no column
    narrower than half an equal share (an empty "input" stays readable), the long one the widest."""
    rows = [{"field": "train.learning_rate", "a": 1e-3, "b": 5e-3, "c": None}]
    diff = runs_tab._differences(["a", "b", "c"], rows)
    assert diff.value["headers"] == ["field", "a", "b", "c"] and diff.column_widths == ["20%", *["26.7%"] * 3]
    first = data_tab._table([{"instruction": "Hi!", "input": "", "output": "Arr, matey! " * 10}] * 3)
    shares = [float(w.rstrip("%")) for w in first.column_widths]
    assert first.value["headers"] == ["instruction", "input", "output"]
    assert min(shares) >= 50 / 3 and shares[2] == max(shares) and sum(shares) == pytest.approx(100, abs=0.2)
