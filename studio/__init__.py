"""Fine-tuning Studio: the service layer behind the Gradio app and the CLI.

Services here never import gradio; the UI (studio/ui/) never imports torch, transformers or trl.

The faces:

- ``ui``: the Gradio app, one module per tab; it reaches the rest only through ``services`` (and
  ``config``, ``schema``);
- ``services``: the UI's one door, the process-wide Studio object (one job manager, one chat engine);
- ``cli`` (and ``__main__``, ``python -m studio <command>``): the command line over the same services;
- ``bench``: ``python -m studio bench``, every speed claim measured as a ratio in one run.

The services, by concern:

- ``config``: the run configuration, one dataclass per section, each field documented once;
- ``data``: read, recognise, render and clean training data;
- ``generate``: data from models (synthetic rows from a teacher, preference pairs from AI feedback);
- ``models``: find, convert and load models, and know their shapes before loading;
- ``train``: from a RunConfig to a finished run directory; ``launch``: where a run trains
  (this process, accelerate, a Ray cluster);
- ``runs``: one directory per run, the truth for the UI, the CLI and a restarted app;
- ``chat``: the base and its adapters answering side by side;
- ``evaluate``: base versus adapter on held-out rows, benchmarks and LLM judges;
- ``export``: what leaves the studio (adapter, merged model, GGUF, model card, the Hub);
- ``patches``: every replacement of a library internal, with the versions it is proven on.

Two leaf modules every package may ask: ``schema`` (config fields documented once: help, choices,
bounds in dataclass metadata, read by the form and the CLI flags) and ``paths`` (where the studio
keeps things, and whether a path lies inside given folders).
"""

import os

__version__ = "0.1.0"

# torch's OpenMP threads (GNU libgomp on the CPU wheels) spin about 300,000 times before sleeping
# at the end of each parallel region. On two cores that spin is taken from whatever else runs: the
# app's UI while it trains and any second process. 10,000 spins keep SFT's tokens/s and give the UI
# its share back, where fully passive waits cost training (`python -m studio bench --only sft
# responsiveness`; the measurements: docs/benchmark-notes.md, issue 16).
# Read by libgomp when torch loads it, so it is set before anything imports torch; a value the
# user set wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
