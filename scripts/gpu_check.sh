#!/usr/bin/env bash
# GPU readiness in one go: set up, run the CUDA tests and the benchmark, print one Markdown table.
#
#   bash scripts/gpu_check.sh                  # setup.sh test, pytest -m gpu, python -m studio bench
#   bash scripts/gpu_check.sh --quick          # the benchmark at its tiny CI size (minutes)
#   bash scripts/gpu_check.sh --no-setup --only sft dpo memory   # reuse .venv; some sections only
#   bash scripts/gpu_check.sh --no-bench       # the tests alone
#
# Without a GPU the tests are skipped (the table says why) and the benchmark runs on the CPU.
# Files (junit XML, bench JSON, the table) go to $GPU_CHECK_OUT, else a new temporary folder.
# Exit status: 0 when no test failed and no benchmark section broke, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

setup=1
bench=1
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-setup) setup=0 ;;
    --no-bench) bench=0 ;;
    --quick) bench_args+=(--quick) ;;
    --only)
      bench_args+=(--only)
      while [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; do bench_args+=("$2"); shift; done
      ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

out=${GPU_CHECK_OUT:-$(mktemp -d -t gpu-check.XXXXXX)}
mkdir -p "$out"
py=.venv/bin/python

if [ "$setup" = 1 ]; then
  bash scripts/setup.sh test || { echo "gpu_check: setup failed" >&2; exit 1; }
fi
[ -x "$py" ] || { echo "gpu_check: no $py; run without --no-setup" >&2; exit 1; }

echo "gpu_check: device" >&2
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
fi

echo "gpu_check: pytest -m gpu" >&2
"$py" -m pytest -m gpu tests/test_gpu.py -q -rA -p no:cacheprovider --junitxml="$out/gpu.xml" >"$out/pytest.log" 2>&1
tests_rc=$?
tail -n 3 "$out/pytest.log" >&2

bench_rc=0
if [ "$bench" = 1 ]; then
  echo "gpu_check: python -m studio bench ${bench_args[*]}" >&2
  "$py" -m studio bench --json "${bench_args[@]}" >"$out/bench.json" 2>"$out/bench.log"
  bench_rc=$?
  [ "$bench_rc" = 0 ] || tail -n 20 "$out/bench.log" >&2
fi

"$py" - "$out" >"$out/table.md" <<'EOF'
"""One Markdown table: each GPU test's outcome, then the benchmark's figures."""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from studio.bench.report import TARGETS

out = Path(sys.argv[1])
rows = []
broken = False
try:
    cases = ET.parse(out / "gpu.xml").getroot().iter("testcase")
except (OSError, ET.ParseError) as exc:
    cases = []
    rows.append(("test", "pytest -m gpu", "error", f"no results ({exc})"))
    broken = True
for case in cases:
    result, detail = "passed", f"{float(case.get('time', 0)):.1f} s"
    for kind in ("failure", "error", "skipped"):
        found = case.find(kind)
        if found is not None:
            result = "skipped" if kind == "skipped" else "FAILED"
            detail = (found.get("message") or "").splitlines()[0][:120] if found.get("message") else kind
            broken |= kind != "skipped"
    rows.append(("test", case.get("name"), result, detail.replace("|", "/")))


def figures(prefix, value, section):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from figures(f"{prefix}.{key}" if prefix else key, inner, section)
    elif not isinstance(value, list):
        text = f"{value:,.4g}" if isinstance(value, float) else str(value)
        yield prefix, text, TARGETS.get((section, prefix), "")


try:
    report = json.loads((out / "bench.json").read_text())
except (OSError, ValueError):
    report = None
if report is not None:
    rows.append(("bench", "machine", report["machine"]["device"], "quick" if report.get("quick") else "full"))
    for section, value in report.items():
        if not isinstance(value, dict) or section == "machine":
            continue
        if "error" in value:
            broken = True
        for name, text, target in figures("", value, section):
            if name != "section_seconds":
                rows.append(("bench", f"{section}.{name}", text.replace("|", "/"), f"target {target}" if target else ""))
print("| kind | check | result | detail |")
print("|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(str(cell) for cell in row) + " |")
sys.exit(1 if broken else 0)
EOF
table_rc=$?
cat "$out/table.md"
echo "gpu_check: files in $out" >&2
[ "$tests_rc" = 0 ] || [ "$tests_rc" = 5 ] || exit 1  # 5: nothing collected
[ "$bench_rc" = 0 ] && [ "$table_rc" = 0 ] || exit 1
exit 0
