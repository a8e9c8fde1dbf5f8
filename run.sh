#!/usr/bin/env bash
# Set up (first time only) and launch the studio on the embedded model: `bash run.sh [app.py options]`.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
