"""Runs: one directory per run is the truth for the UI, the CLI and a restarted app.

- ``directory``: the layout (config.yaml, metrics.jsonl, status.json, checkpoints, adapter),
  reading it back, listing and deleting runs;
- ``owners``: who a run belongs to and who may see or change it (the studio's one sharing rule);
- ``record``: what a job writes beside the training (environment, logs, resume checks);
- ``segments``: each start or resume trains one segment; the whole run's time, tokens, peak memory;
- ``metrics``: the run's JSON-lines files (metrics, probes, GRPO's samples) read, trimmed on resume,
  summarised; ``completions``: GRPO's sampled answers with their rewards (completions.jsonl);
- ``curves``: the plotly figures of a run's metrics; ``diff``: what differs between runs' configs,
  beside an overlay of their curves;
- ``dashboards``: the tracker a run also logged to, and how to open its dashboard on the run.
"""
