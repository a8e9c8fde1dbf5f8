"""Fine-tuning Studio: the service layer behind the Gradio app and the CLI.

Services here never import gradio; the UI (studio/ui/) never imports torch, transformers or trl.
"""

import os

__version__ = "0.1.0"

# torch's OpenMP threads (GNU libgomp on the CPU wheels) spin about 300,000 times before sleeping
# at the end of each parallel region. On two cores that spin is taken from whatever else runs: the
# app's UI while it trains (dataset preview 0.30-0.46 s instead of 0.26 s) and any second process
# (a GRPO step went from 16-30 s to 136 s under load). 10,000 spins keep SFT's tokens/s (116.2
# against 116.3) and give the UI its share back (0.27-0.34 s); fully passive waits cost training 11%.
# Read by libgomp when torch loads it, so it is set before anything imports torch; a value the
# user set wins. BENCHMARKS.md, issue 16.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
