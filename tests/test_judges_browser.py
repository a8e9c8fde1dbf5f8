"""A person's view of the judges: the Evaluate tab's Judges section judges the tiny run with two
loopback judges (a jury), shows win/tie/loss, the agreement with people's arena votes, and every
verdict with its rationale. The screenshot goes to $STUDIO_SCREENSHOTS (default: the tmp folder)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from studio.chat.arena import record_vote
from tests.openai_server import openai_server
from tests.test_judges import always_a, longer
from tests.test_row_scores import by_length

from .apphost import running_app
from .test_browser import CHROMIUM, FLAGS
from .test_journey_browser import no_error_shown, number

# One app start, two tabs: ~2.5 min on the shared two cores, so outside CI's budget (heavy).
pytestmark = [pytest.mark.browser, pytest.mark.heavy]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_the_judges_section_shows_the_jury_the_people_line_and_every_verdict(tiny_sft_run, tmp_path, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    shutil.copytree(tiny_sft_run.path, runs / tiny_sft_run.id)
    for i, (chosen, rejected) in enumerate([("A long and careful answer.", "No."), ("Yes.", "A rambling reply.")]):
        record_vote(
            runs / "arena" / "preferences.jsonl",
            [{"role": "user", "content": f"Q{i}?"}],
            [("x", chosen), ("y", rejected)],
            0,
        )
    with (
        openai_server(always_a) as first,
        openai_server(longer) as second,
        openai_server(by_length) as rater,
        running_app(runs, env={"STUDIO_CLEANED_DIR": str(tmp_path / "datasets")}) as url,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        score_step(page, expect, shots, rater.url)
        page.get_by_role("tab", name="Evaluate").click()
        expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(tiny_sft_run.id, timeout=30000)
        page.get_by_text("LLM judges: base vs adapter").click()
        page.locator("#judge-specs textarea").fill(f"{first.url}?model=always-a\n{second.url}?model=longer")
        for label, value in (("Judge prompts", 2), ("Answer tokens", 8)):
            number(page, label).fill(str(value))
        page.get_by_role("button", name="Judge", exact=True).click()
        expect(page.locator("#judge-status")).to_contain_text("each judged in both orders", timeout=120000)
        expect(page.locator("#judge-results")).to_contain_text("jury")
        expect(page.locator("#judge-results")).to_contain_text("100%")  # always A: position bias
        expect(page.locator("#judge-people-note")).to_contain_text("2 people's votes")
        expect(page.locator("#judge-people")).to_contain_text("too few votes")
        expect(page.locator("#judge-verdicts")).to_contain_text("Verdict: A")  # a rationale, browsable
        no_error_shown(page)
        page.locator("#judge-results").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "evaluate_judges.png"), full_page=True)
        browser.close()
    assert (shots / "evaluate_judges.png").stat().st_size > 10_000
    assert list((tmp_path / "datasets").glob("*.scores.jsonl"))


def score_step(page, expect, shots, rater_url):
    """The Data tab: a judge scores the sample's first 12 rows; a threshold cleans them."""
    expect(page.get_by_text("223 rows", exact=True)).to_be_visible(timeout=60000)  # the sample, loaded on opening
    page.get_by_text("Score rows with a judge or a reward model").click()
    page.locator("#score-scorer textarea, #score-scorer input").first.fill(rater_url + "?model=rater")
    number(page, "Score rows").fill("12")
    page.get_by_role("button", name="Score rows", exact=True).click()
    expect(page.locator("#score-status")).to_contain_text("12 rows scored", timeout=60000)
    page.get_by_role("button", name="Clean, keeping rows at or above the threshold").click()
    expect(page.locator("#score-report")).to_contain_text("Kept", timeout=60000)
    expect(page.locator("#score-report")).to_contain_text("min_score")
    no_error_shown(page)
    page.locator("#score-status").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "data_scores.png"), full_page=True)
