"""Runs: one directory per run is the truth for the UI, the CLI and a restarted app.

- ``directory``: the layout (config.yaml, metrics.jsonl, status.json, checkpoints, adapter),
  reading it back, listing and deleting runs;
- ``record``: what a job writes beside the training (environment, logs, resume checks);
- ``curves``: the plotly figures of a run's metrics.
"""
