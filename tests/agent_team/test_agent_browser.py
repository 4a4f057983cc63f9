"""Run and watch, in a real browser: register, create a project, run it, see the stages live."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from run_pages import scripted_model, start_consumer, stop_consumer

from browser_support import PageProblems, fresh_app, save_screenshot
from live_server import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL, PASSWORD = "watcher@example.com", "correct horse battery"

# Records each state a stage takes on the page as it was first loaded (a reload loses it).
WATCH_STAGES = """() => {
  window.__seen = [];
  new MutationObserver((changes) => changes.forEach((change) => window.__seen.push(
    change.target.dataset.stage + ":" + change.target.dataset.state
  ))).observe(document.querySelector(".stages"), {subtree: true, attributeFilter: ["data-state"]});
}"""
# What was seen, once every stage is done on that same page: so through the event stream.
ALL_DONE_LIVE = """() => window.__seen
  && document.querySelectorAll('.stage[data-state="done"]').length === 4
  && document.getElementById("run-tokens").textContent !== "0"
  && document.getElementById("run-announce").textContent !== ""
  && window.__seen"""


@pytest.fixture
def live_url(tmp_path, monkeypatch) -> Iterator[str]:
    """Serve the app with a scripted model (0.8 s a call) and a consumer thread working runs."""
    with scripted_model(monkeypatch, delay=0.8), fresh_app(tmp_path) as app:
        consumer = start_consumer(app)
        try:
            with live_server(app) as url:
                yield url
        finally:
            stop_consumer(app, consumer)


def test_run_an_analysis_and_watch_it_to_the_verdict(chromium, live_url, tmp_path):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(f"{live_url}/register")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{live_url}/")

    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name").fill("Translators")
    page.get_by_label("Market segments").fill("freelance translators\ntranslation agencies")
    page.get_by_label("Notes").fill("I want 60k a year.")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(re.escape(live_url) + r"/projects/\d+$"))
    assert page.get_by_role("heading", name="Translators").is_visible()
    save_screenshot(page, tmp_path / "project-1280.png")
    problems.check()

    page.get_by_label("translation agencies").uncheck()
    page.get_by_role("button", name="Run analysis").click()
    page.wait_for_url(re.compile(re.escape(live_url) + r"/runs/\d+$"))
    run_url = page.url
    stages = page.get_by_role("list", name="Stages")
    assert stages.get_by_role("listitem").count() == 4
    page.wait_for_selector('.stage[data-stage="research"][data-state="running"]')
    page.wait_for_selector('.stage[data-stage="research"][data-state="done"]', timeout=30_000)
    problems.check()

    # Closing the tab leaves the run working; reopening it shows where the run is.
    page.close()
    page = context.new_page()  # the same browser session, in a new tab
    problems = PageProblems(page)
    page.goto(run_url)
    page.evaluate(WATCH_STAGES)
    assert page.locator('.stage[data-stage="research"][data-state="done"]').count() == 1
    # Still working when the page opened: the stream must bring every change that follows.
    assert page.locator('.stage[data-stage="marketing"][data-state="done"]').count() == 0
    save_screenshot(page, tmp_path / "run-working-1280.png")
    seen = page.wait_for_function(ALL_DONE_LIVE, timeout=60_000, polling=50).json_value()
    assert "marketing:running" in seen and "marketing:done" in seen, seen

    # Then the page reloads itself and the server renders the finished plan.
    verdict = page.get_by_role("heading", name=re.compile(r"^Verdict: (go|pivot|no-go)$"))
    verdict.wait_for(timeout=15_000)
    page.get_by_role("tab", name="Niches").click()  # the ranking is on the plan's Niches tab
    assert page.get_by_role("heading", name="Niche ranking").is_visible()
    assert page.locator("#run-status").inner_text() == "succeeded"
    assert page.get_by_role("cell", name=re.compile(r"^Legal translation QA")).count() == 1
    problems.check()
    save_screenshot(page, tmp_path / "run-done-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    save_screenshot(page, tmp_path / "run-done-390.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "wider than a phone"

    page.get_by_role("link", name="← Translators").click()
    runs = page.get_by_role("table")
    assert runs.get_by_role("cell", name="succeeded").count() == 1
    assert runs.get_by_role("cell", name="scripted").count() == 1
    save_screenshot(page, tmp_path / "project-390.png")
    problems.check()
