"""The Gradio app: one module per tab, each a thin adapter over studio.services (its one door, with
studio.config and studio.schema); nothing here imports torch, transformers or TRL.

- ``app``: ``build_app()``, the Blocks with one tab per module (app.py launches it);
- ``data_tab``: open a dataset, see exactly what the model trains on, hand it to Train; its sections
  ``clean_panel`` (clean and split), ``generate_panel`` (rows and preference pairs from models) and
  ``score_panel`` (a judge or a reward run scores the rows; a threshold keeps the good ones);
- ``train_tab``: the run form, its live review, Start and Stop, live monitoring; ``train_layout``:
  where each field and component sits; ``train_guide``: presets and one-click fixes where the method
  and the data disagree; ``train_views``: HTML of the progress line, the review and the probe table
  (the Runs tab's too);
- ``runs_tab``: every run directory, opened, overlaid, resumed, shared or deleted;
- ``chat_tab``: the base and adapters answering the same turn side by side, arena votes;
- ``evaluate_tab``: base versus adapter on held-out rows, and batch compare; its sections
  ``bench_panel`` (lm-evaluation-harness benchmarks) and ``judge_panel`` (LLM judges and their
  agreement with people);
- ``export_tab``: the adapter zip, a merged model, a GGUF, the model card, a push to the Hub;
- ``forms``: form components generated from a config dataclass, and values read back into it;
- ``errors``: how every tab shows a user's mistake (a card in place, a toast at most once, one log line);
- ``space``: where the app runs and who may open it (loopback, a share link, a server, a Space),
  and who is behind an event; ``login``: the login check, wrong tries limited per address and name.
"""
