"""The benchmark report as the Markdown table of BENCHMARKS.md."""

from __future__ import annotations

TARGETS = {
    ("sft", "ratio_vs_floor"): ">= 0.9",
    ("sft", "fraction_of_ceiling"): ">= 0.5",
    ("dpo", "fraction_of_ceiling"): ">= 0.5",
    ("chat", "base_decode_fraction_of_ceiling"): ">= 0.75",
    ("chat", "adapter_decode_fraction_of_ceiling"): ">= 0.75",
    ("sft", "ratio_vs_plain_trl"): ">= 10 on a CPU without native bf16",
    ("dpo", "ratio_vs_floor"): ">= 0.9",
    ("tokens", "useful_token_share"): ">= 0.95",
    ("chat", "base_ttft_s"): "< 0.3",
    ("chat", "adapter_ttft_s"): "< 0.3",
    ("chat", "base_next_turn_ttft_s"): "< 0.3",
    ("chat", "adapter_next_turn_ttft_s"): "< 0.3",
    ("chat", "base_decode_tokens_per_s"): ">= 40",
    ("chat", "adapter_decode_tokens_per_s"): ">= 40",
    ("responsiveness", "preview_p95_s"): "< 0.5",
    ("data", "rows_per_s"): ">= 5000",
}


def _rows(prefix: str, value, section: str) -> list[tuple[str, str, str]]:
    out = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _rows(f"{prefix}.{key}" if prefix else key, inner, section)
    elif not isinstance(value, list):
        target = TARGETS.get((section, prefix), "")
        out.append((prefix, f"{value:,.4g}" if isinstance(value, float) else str(value), target))
    return out


def _options(report: dict) -> str:
    """The command-line options this report was made with, as far as the report shows them."""
    options = " --quick" if report.get("quick") else ""
    if any("studio" in report.get(m, {}) and "plain_trl" not in report[m] for m in ("sft", "dpo")):
        options += " --no-plain"
    return options


def markdown(report: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {report.get('started', '')} on {report['machine']['device']} "
        f"(Python {report['machine']['python']}), model: {report.get('model', '')}"
        + (" — quick mode: sizes too small for the figures to mean anything" if report.get("quick") else "")
        + ".",
        "",
        f"Reproduce: `.venv/bin/python -m studio bench{_options(report)} --write BENCHMARKS.md`.",
        "",
    ]
    for section, value in report.items():
        if not isinstance(value, dict) or section == "machine":
            continue
        lines += [f"## {section}", "", "| figure | value | target |", "|---|---|---|"]
        lines += [f"| {name} | {text} | {target} |" for name, text, target in _rows("", value, section)]
        lines.append("")
    return "\n".join(lines)
