"""A Train tab that fits (issue 33, item 5), in headless Chromium at 1440x900 and at 400x800.

Without training: a method's own section shows only while it is chosen, Start comes before the
status and the review, the Data tab's first rows keep every column readable, and on a phone Start
is within two screens and the chat columns stack. Training a tiny model: Start is off while one's
run trains (on again when it ends) with the curves full width under the status, Runs -> Config
differences shows every compared run's column, and GRPO's answers table shows the answer and its
rewards first. All heavy (an app and a browser each); the handlers' tests in tests/test_ui_handlers.py
run in CI. Screenshots go to $STUDIO_SCREENSHOTS (default: the test's tmp folder).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from .apphost import running_app
from .conftest import tiny_recipe
from .test_browser import CHROMIUM, FLAGS

pytestmark = [pytest.mark.browser, pytest.mark.heavy]  # 52 s for the lightest at load 4.6 on 2 cores
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def pick(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def load_yaml(page, path: Path) -> None:
    """The config file into the form, as a person does: "Load config YAML" in its accordion."""
    page.get_by_text("Config file and headless command").click()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Load config YAML").click()
    chooser.value.set_files(str(path))


def headers(page, name: str) -> list[str]:
    cells = page.get_by_role("grid", name=name).get_by_role("columnheader").all_inner_texts()
    return [h.replace("⋮", "").strip() for h in cells]  # without the column menu's handle


def shots_dir(tmp_path) -> Path:
    shots = Path(os.environ.get("STUDIO_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


@needs_chromium
def test_sections_for_the_method_start_first_and_a_phone(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots, runs = shots_dir(tmp_path), tmp_path / "runs"
    runs.mkdir()
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)

        # The Data tab's first rows: every column of the sample (alpaca) readable, none a letter wide.
        expect(page.locator("#data-summary")).to_contain_text("223 rows", timeout=120000)
        grid = page.get_by_role("grid", name="First rows")
        names = [re.compile(rf"^\s*{c}\b") for c in ("instruction", "input", "output")]
        expect(grid.get_by_role("columnheader")).to_have_text(names)
        widths = [h.bounding_box()["width"] for h in grid.get_by_role("columnheader").all()]
        assert min(widths) >= 80, widths

        # Sections for the chosen method only.
        page.get_by_role("tab", name="Train").click()
        expect(page.locator("#review-batch")).to_contain_text("steps", timeout=60000)
        dpo, kto, grpo = (page.get_by_text(n, exact=True) for n in ("DPO, ORPO and KTO", "KTO", "GRPO"))
        for section in (dpo, kto, grpo):
            expect(section).to_be_hidden()
        pick(page, "Method", "kto")
        expect(dpo).to_be_visible(timeout=30000)  # KTO reads beta there
        expect(kto).to_be_visible()
        expect(grpo).to_be_hidden()
        pick(page, "Method", "grpo")
        expect(grpo).to_be_visible(timeout=30000)
        expect(dpo).to_be_hidden()
        expect(page.get_by_label("Num generations")).to_be_visible()
        pick(page, "Method", "sft")
        expect(grpo).to_be_hidden(timeout=30000)

        # Start first, above the review; nothing to watch yet.
        start = page.get_by_role("button", name="Start training")
        expect(start).to_be_enabled()
        assert start.bounding_box()["y"] + 40 < page.locator("#train-status").bounding_box()["y"]
        assert page.locator("#train-status").bounding_box()["y"] < page.locator("#train-review").bounding_box()["y"]
        expect(page.locator("#train-watch")).to_be_hidden()

        # A phone: Start within two screens of the Train tab; the chat columns stacked, full width.
        phone = browser.new_page(viewport={"width": 400, "height": 800})
        phone.goto(url)
        phone.get_by_role("tab", name="Train").click()
        expect(phone.locator("#review-batch")).to_contain_text("steps", timeout=60000)
        phone.evaluate("window.scrollTo(0, 0)")
        assert phone.get_by_role("button", name="Start training").bounding_box()["y"] < 2 * 800
        phone.get_by_role("tab", name="Chat").click()
        one, two = (phone.locator(f"#chat-{i}").bounding_box() for i in (1, 2))
        assert one["width"] >= 300 and two["width"] >= 300, (one, two)
        assert two["y"] >= one["y"] + one["height"]  # stacked
        phone.screenshot(path=str(shots / "layout_chat_400.png"), full_page=True)
        browser.close()


@needs_chromium
def test_start_is_off_while_ones_run_trains_and_every_compared_run_shows(tmp_path, tiny_model_dir, tiny_sft_run):
    from playwright.sync_api import expect, sync_playwright

    shots, runs = shots_dir(tmp_path), tmp_path / "runs"
    shutil.copytree(tiny_sft_run.path, runs / tiny_sft_run.id)  # a finished run to compare with
    config = tiny_recipe(tiny_model_dir, max_steps=12, logging_steps=1)
    config.save(tmp_path / "run.yaml")
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.get_by_role("tab", name="Train").click()
        expect(page.locator("#review-batch")).to_contain_text("steps", timeout=60000)

        # Start off while this person's run trains, on again when it ends; the curves full width.
        start = page.get_by_role("button", name="Start training")
        load_yaml(page, tmp_path / "run.yaml")
        expect(page.locator("#review-batch")).to_contain_text("max_steps: 12", timeout=30000)
        start.click()
        expect(start).to_be_disabled(timeout=30000)
        expect(page.locator("#train-status")).to_contain_text("running", timeout=60000)
        expect(page.locator("#train-watch .js-plotly-plot").first).to_be_visible(timeout=30000)
        watch, actions = page.locator("#train-watch").bounding_box(), page.locator("#train-actions").bounding_box()
        assert watch["width"] > 0.9 * actions["width"]  # the curves full width, under the status
        assert watch["y"] < page.locator("#train-review").bounding_box()["y"]
        page.screenshot(path=str(shots / "layout_training_1440.png"))
        expect(page.locator("#train-status")).to_contain_text("completed", timeout=120000)
        expect(start).to_be_enabled(timeout=30000)

        # Runs -> Compare: every compared run has its column, in view.
        page.get_by_role("tab", name="Runs").click()
        page.get_by_role("combobox", name="Runs to overlay").click()
        ids = sorted(p.name for p in runs.iterdir() if p.is_dir())
        assert len(ids) == 2
        for run_id in ids:
            page.get_by_role("option", name=run_id).click()
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Compare", exact=True).click()
        diff = page.get_by_role("grid", name="Config differences")
        expect(diff.get_by_role("columnheader")).to_have_count(3, timeout=30000)
        assert headers(page, "Config differences") == ["field", *ids]
        box = diff.bounding_box()
        last = diff.get_by_role("columnheader").nth(2).bounding_box()
        assert last["x"] + last["width"] <= box["x"] + box["width"] + 1, "the last run's column is off to the right"
        browser.close()


@needs_chromium
def test_grpo_answers_table_shows_answer_and_rewards_first(tmp_path, tiny_model_dir):
    from playwright.sync_api import expect, sync_playwright

    shots, runs = shots_dir(tmp_path), tmp_path / "runs"
    runs.mkdir()
    grpo = dict(method="grpo", dataset="assets/arithmetic_grpo.jsonl", batch_size=2, max_steps=2)
    config = tiny_recipe(tiny_model_dir, **grpo, num_generations=2, max_completion_length=8, reward_format=1.0)
    config.save(tmp_path / "run.yaml")
    with running_app(runs) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.get_by_role("tab", name="Train").click()
        expect(page.locator("#review-batch")).to_contain_text("steps", timeout=60000)
        load_yaml(page, tmp_path / "run.yaml")
        expect(page.locator("#review-batch")).to_contain_text("Effective batch 2 x 1", timeout=30000)
        page.get_by_role("button", name="Start training").click()
        expect(page.locator("#train-status")).to_contain_text("completed", timeout=300000)
        name = "GRPO: sampled answers of the latest step, best first"
        grid = page.get_by_role("grid", name=name)
        expect(grid).to_be_visible(timeout=30000)
        shown = headers(page, name)
        assert shown[:2] == ["answer", "total"] and shown[-2:] == ["prompt", "step"] and len(shown) > 4, shown
        box, reward = grid.bounding_box(), grid.get_by_role("columnheader").nth(2).bounding_box()
        assert reward["x"] + reward["width"] <= box["x"] + box["width"] + 1  # the rewards are in view
        grid.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "layout_grpo_answers_1440.png"))
        browser.close()
