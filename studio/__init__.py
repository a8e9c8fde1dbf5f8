"""Fine-tuning Studio: the service layer behind the Gradio app and the CLI.

Services here never import gradio; the UI (studio/ui/) never imports torch, transformers or trl.
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
