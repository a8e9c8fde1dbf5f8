"""torch's OpenMP threads stop spinning soon enough to leave the UI and other processes a core."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import studio, torch, os; print(os.environ.get('GOMP_SPINCOUNT'))"


def _spincount(user_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    if user_value is not None:
        env["GOMP_SPINCOUNT"] = user_value
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_the_studio_sets_a_short_spin_before_torch_loads_and_a_user_value_wins():
    assert _spincount(None) == "10000"
    assert _spincount("300000") == "300000"
