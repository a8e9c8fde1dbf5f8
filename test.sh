#!/usr/bin/env bash
# Set up (first time only) and run the tests: `bash test.sh [--all | --ci] [pytest options]`.
#   bash test.sh              everything, heavy included (the same as --all; a nightly run)
#   bash test.sh --all        everything, said explicitly
#   bash test.sh --ci         what CI runs (.ci/run): all but `heavy`, which keeps the `smoke` tier
#                             (one cheap case of each heavy check: a Ray worker, an accelerate launch,
#                             a GGUF that fails its check, a non-SFT resume, a measured peak)
#   bash test.sh -m smoke     the smoke tier alone
# The tiers are the markers in pyproject.toml ([tool.pytest.ini_options] markers).
set -euo pipefail
cd "$(dirname "$0")"
tier=()
case "${1:-}" in
  --all) shift ;;
  --ci) shift; tier=(-m "not heavy") ;;
esac
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "${tier[@]}" "$@"
