"""The tests run in the tests' environment, not the shell's (tests/conftest.py): a developer's or a
Space's STUDIO_* / SPACE_* / HF_* variables are cleared before the first test, and a test that
writes ``os.environ`` directly (as the CLI run in-process does) leaves nothing for the next."""

import os
import re
import subprocess
import sys

from studio.patches import ALL_OFF, FASTPATHS

from .conftest import ROOT, TESTS_ENVIRONMENT, read_by_studio

# Read by the studio but steering no test: thread counts, log verbosity, where caches live.
NOT_STEERING = {
    "OMP_NUM_THREADS",
    "GOMP_SPINCOUNT",
    "TOKENIZERS_PARALLELISM",
    "TRANSFORMERS_VERBOSITY",
    "XDG_CACHE_HOME",
}
READ = re.compile(
    r'(?:environ\.get\(|environ\[|getenv\(|environ\.setdefault\()"([A-Z][A-Z0-9_]+)"|"([A-Z][A-Z0-9_]+)" in os\.environ'
)

# Run by test_a_shell_with_odd_values_steers_no_test in a pytest of its own, with the conftest.
INNER = """
import os

def test_the_shells_values_are_gone():
    assert "SPACE_ID" not in os.environ and "STUDIO_RUNS_DIR" not in os.environ
    assert "HF_TOKEN" not in os.environ and "STUDIO_FASTPATHS" not in os.environ
    assert os.environ["STUDIO_ALLOWED_DIRS"] != "/odd/data" and os.environ["STUDIO_CHAT_BACKEND"] == "torch"
    assert "STUDIO_DATA_DIRS" not in os.environ and "STUDIO_CLEANED_DIR" not in os.environ  # old and new names
    assert os.environ["STUDIO_CACHE_DIR"] == "/kept/cache"  # where caches live is kept
    assert os.environ["STUDIO_SCREENSHOTS"] == "/kept/shots"  # and where tests leave screenshots

def test_a_test_writes_the_environment_directly():
    os.environ["STUDIO_RUNS_DIR"] = "/leaked/runs"
    os.environ["SPACE_ID"] = "leaked/space"
    os.environ["STUDIO_CHAT_BACKEND"] = "llamacpp"

def test_the_next_test_finds_the_tests_environment():
    assert "STUDIO_RUNS_DIR" not in os.environ and "SPACE_ID" not in os.environ
    assert os.environ["STUDIO_CHAT_BACKEND"] == "torch"
"""


def test_a_shell_with_odd_values_steers_no_test(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    odd = {
        "STUDIO_ALLOWED_DIRS": "/odd/data",
        "STUDIO_DATA_DIRS": "/odd/old-name",
        "STUDIO_CLEANED_DIR": "/odd/cleaned",
        "STUDIO_RUNS_DIR": "/odd/runs",
        "SPACE_ID": "odd/space",
        "HF_TOKEN": "hf_odd",
        "STUDIO_FASTPATHS": "0",
        "STUDIO_CACHE_DIR": "/kept/cache",
        "STUDIO_SCREENSHOTS": "/kept/shots",
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **odd}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]


def test_every_variable_the_studio_reads_is_one_the_tests_clear():
    sources = [*(ROOT / "studio").rglob("*.py"), ROOT / "app.py"]
    read = {a or b for path in sources for a, b in READ.findall(path.read_text())}
    switches = {ALL_OFF, *(p.switch for p in FASTPATHS.values())}  # named once, in studio.patches
    assert {"STUDIO_RUNS_DIR", "SPACE_ID", "HF_TOKEN", "WORLD_SIZE"} <= read  # the scan finds them
    assert not {n for n in read | switches if not read_by_studio(n)} - NOT_STEERING
    assert not switches & set(os.environ)
    assert {n: v for n, v in os.environ.items() if read_by_studio(n)} == TESTS_ENVIRONMENT
