#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite: `bash test.sh [pytest options]`.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
