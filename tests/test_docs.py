"""The front door and the pages behind it: links that resolve, a short README, BENCHMARKS.md as the
bench writes it, and no measured speed figures in the code's docstrings and comments (they go stale;
``python -m studio bench`` and BENCHMARKS.md hold them)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A file or folder of the repository named in the text: `studio/train/jobs/manager.py`, tests/test_x.py, configs/...
NAMED = re.compile(r"(?<![\w/.~-])((?:studio|tests|configs|assets|scripts|docs)/[\w./-]*\w/?)")
# A speed claim with its number: "51 tokens/s", "0.36 ms", "104 GFLOPS", "6x faster", "ten times slower".
SPEED = re.compile(
    r"\d[\d.,]*\s?(tokens/s|tok/s|tokens a second|ms|GFLOPS|GB/s)\b"
    r"|\d+(\.\d+)?x (faster|slower)"
    r"|\b(\d+|two|three|four|five|six|seven|eight|nine|ten|twice) times (as fast|faster|slower)",
    re.IGNORECASE,
)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and anchor not in _anchors(file):
                broken.append(f"{page.name}: {target} (no heading #{anchor})")
    assert not broken, broken


def test_every_repository_path_the_pages_name_exists():
    """A module that moves takes its mention along (the pages name files, not line numbers)."""
    missing = sorted(
        f"{page.name}: {name}"
        for page in PAGES
        for name in NAMED.findall(page.read_text())
        if not (ROOT / name).exists()
    )
    assert not missing, missing


def test_the_readme_is_a_short_front_door_that_keeps_the_space_front_matter():
    text = (ROOT / "README.md").read_text()
    front, body = text.split("\n---\n", 1)
    assert front.startswith("---\n")
    assert {"sdk: gradio", "app_file: app.py", "hf_oauth: true"} <= set(front.splitlines())
    assert len(text.splitlines()) <= 120, "the README is the front door: move the detail into docs/"
    assert "bash run.sh" in body and "bash test.sh" in body and "docs/screenshots/" in body


def test_benchmarks_md_holds_only_what_the_bench_writes():
    """Dated notes belong in docs/benchmark-notes.md: ``bench --write`` replaces the whole file."""
    lines = (ROOT / "BENCHMARKS.md").read_text().splitlines()
    written = re.compile(r"(# Benchmarks|## \w+|Measured .*|Reproduce: `.*`\.|\| .* \|.*\||\|---\|---\|---\||)$")
    assert lines[0] == "# Benchmarks"
    assert [line for line in lines if not written.fullmatch(line)] == []


def test_no_measured_speed_figures_in_docstrings_or_comments():
    found = []
    for path in sorted((ROOT / "studio").rglob("*.py")):
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            docstring = tok.type == tokenize.STRING and tok.string.lstrip("rbuRBU").startswith(('"""', "'''"))
            if tok.type == tokenize.COMMENT or docstring:
                found += [f"{path.relative_to(ROOT)}:{tok.start[0]}" for _ in SPEED.finditer(tok.string)]
    assert not found, f"point to `python -m studio bench` or BENCHMARKS.md instead: {found}"


def test_the_planned_sections_other_work_fills_are_there():
    evaluation = (ROOT / "docs" / "evaluation.md").read_text().splitlines()
    data = (ROOT / "docs" / "data.md").read_text().splitlines()
    assert {"## Benchmarks", "## LLM judges"} <= set(evaluation)
    assert {"## Semantic dedup", "## Synthetic data", "## Preference pairs from AI feedback"} <= set(data)
