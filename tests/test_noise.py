"""bitsandbytes' "Failed to load CPU gemm_4bit_forward ... pip install kernels" line, logged at every
start-up on a CPU with AVX512-BF16, is dropped by the entry points; its other warnings still show."""

import logging
import re
import subprocess
import sys

import pytest

from studio.models.noise import KNOWN, drop_known_noise

from .conftest import ROOT


def _bnb_message() -> str:
    """The format string as the installed bitsandbytes writes it (read from its source, not imported:
    importing its CPU backend registers kernels)."""
    import importlib.util

    spec = importlib.util.find_spec("bitsandbytes.backends.cpu.ops")
    source = open(spec.origin).read()
    found = re.search(r'"(Failed to load CPU gemm_4bit_forward[^"]*)"', source)
    assert found, "bitsandbytes no longer writes this message: update studio/models/noise.py"
    return found.group(1)


def test_the_known_line_is_dropped_and_the_others_are_not(caplog):
    drop_known_noise()
    drop_known_noise()  # twice: one filter
    name, _ = KNOWN[0]
    logger = logging.getLogger(name)
    assert len(logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=name):
        logger.warning(_bnb_message(), "No module named 'kernels'")
        logger.warning("int8 matmul falls back to fp32 on this CPU")
        logging.getLogger("bitsandbytes").warning("Failed to load CPU gemm_4bit_forward: another logger, shown")
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "int8 matmul falls back to fp32 on this CPU",
        "Failed to load CPU gemm_4bit_forward: another logger, shown",
    ]


REAL_IMPORT = """
import importlib, logging, sys
{install}
import bitsandbytes.functional as F
import bitsandbytes.backends.cpu.ops as ops
F.has_avx512bf16 = lambda: True  # this CPU's path on one with AVX512-BF16, where the line is logged
importlib.reload(ops)
logging.getLogger("bitsandbytes.backends.cpu.ops").warning("another bitsandbytes warning")
"""


@pytest.mark.heavy
def test_the_real_import_no_longer_prints_it_after_app_py_and_the_cli_start():
    def run(install: str) -> str:
        code = REAL_IMPORT.format(install=install)
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    assert "pip install kernels" in run("")  # without the filter, the line is there
    for entry in ("import app", "from studio.cli import main; main(['runs', '--runs-dir', '/nonexistent-runs'])"):
        quiet = run(entry)
        assert "pip install kernels" not in quiet and "another bitsandbytes warning" in quiet, entry
