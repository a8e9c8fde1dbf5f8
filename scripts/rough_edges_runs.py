"""The runs the rough-edges screenshots open: a tiny LoRA SFT run stopped and resumed (two segments),
and a tiny GRPO run on the shipped sums, trained in-process in RUNS_DIR (made once, reused).

    .venv/bin/python scripts/rough_edges_runs.py /tmp/rough-runs
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.bench.tiny import make_tiny_model  # noqa: E402
from studio.train.jobs.manager import JobManager  # noqa: E402
from tests.conftest import ROOT, tiny_recipe  # noqa: E402

runs = Path(sys.argv[1])
runs.mkdir(parents=True, exist_ok=True)
model = make_tiny_model(runs.parent / "tiny-llama")
jobs = JobManager(runs)

sft = tiny_recipe(model, max_steps=12, batch_size=2, save_steps=4, val_fraction=0.25, eval_steps=4)
run = jobs.start(sft)
while jobs.snapshot().step < 5:
    time.sleep(0.05)
jobs.stop()
print("stopped", jobs.wait(300).status)
jobs.start(None, resume=run.path)
print("resumed", jobs.wait(300).status, run.id)

grpo = tiny_recipe(model, method="grpo", dataset=str(ROOT / "assets" / "arithmetic_grpo.jsonl"), max_steps=8)
grpo.grpo.num_generations, grpo.grpo.max_completion_length = 2, 8
grpo.grpo.reward_format, grpo.grpo.reward_length, grpo.grpo.length_target = 1.0, 1.0, 10
jobs.start(grpo)
print("grpo", jobs.wait(300).status)
