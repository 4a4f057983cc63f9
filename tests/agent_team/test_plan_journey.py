"""The plan in a real browser, as a new user goes through it, with a scripted fast model.

``test_journey_*`` are the steps of one journey on one page, in order (each needs the one before:
a step whose predecessor did not pass is skipped, saying so). The other tests stand alone:
cancel and resume, a failed run, a phone, the keyboard only. One app, worker and browser serve
the whole module. Screenshots of each step at 1280 and 390 px go to the folder
``screenshot_folder("plan-journey")`` names ($SCREENSHOT_DIR/plan-journey when that is set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from run_pages import scripted_model, start_consumer, stop_consumer
from scripted_model import ScriptedServer

from browser_support import (
    PageProblems,
    fresh_app,
    launch_chromium,
    save_screenshot,
    save_screenshots,
    screenshot_folder,
)
from live_server import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
SEGMENTS = "freelance translators\ntranslation agencies"
STEP_DELAY = 0.25  # seconds the scripted model takes a call: slow enough to watch, fast to test

# On every run page of a tab told to watch (``watch_next_run``): the stages' states when the
# first such page loaded, and every state change the page's script makes after, kept in the tab's
# sessionStorage so that the page's reload at the end loses nothing.
WATCH_RUN_PAGES = """document.addEventListener("DOMContentLoaded", () => {
  const stages = document.querySelector(".stages");
  if (!stages || sessionStorage.getItem("watch") !== "1") return;
  if (!sessionStorage.getItem("before")) {
    sessionStorage.setItem("before", JSON.stringify(Object.fromEntries(
      [...stages.querySelectorAll(".stage")].map((s) => [s.dataset.stage, s.dataset.state]))));
  }
  new MutationObserver((changes) => {
    const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
    changes.forEach((c) => seen.push(c.target.dataset.stage + ":" + c.target.dataset.state));
    sessionStorage.setItem("seen", JSON.stringify(seen));
  }).observe(stages, {subtree: true, attributeFilter: ["data-state"]});
});"""
WATCH_NEXT_RUN = """() => {
  ["before", "seen"].forEach((key) => sessionStorage.removeItem(key));
  sessionStorage.setItem("watch", "1");
}"""
# Once every stage shows done: the states at the first load and the changes seen since.
ALL_DONE = """() => document.querySelectorAll('.stage[data-state="done"]').length === 4 && {
  before: JSON.parse(sessionStorage.getItem("before") || "{}"),
  seen: JSON.parse(sessionStorage.getItem("seen") || "[]"),
}"""


@dataclass
class Site:
    """The served app, its scripted model and one browser."""

    url: str
    model: ScriptedServer
    browser: object
    folder: Path
    users: int = 0

    def new_user(self, *, width: int = 1280, **context):
        """Register a new user through the form in a new context; return its page."""
        self.users += 1
        browser_context = self.browser.new_context(
            viewport={"width": width, "height": 800}, accept_downloads=True, **context
        )
        page = browser_context.new_page()
        page.add_init_script(WATCH_RUN_PAGES)
        page.goto(f"{self.url}/register")
        page.get_by_label("Email").fill(f"user{self.users}@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat password").fill(PASSWORD)
        page.get_by_role("button", name="Register").click()
        page.wait_for_url(f"{self.url}/")
        return page

    def shoot(self, page, name: str) -> None:
        """Screenshots of the page at 1280 and 390 px; the page is left at 1280."""
        save_screenshots(page, self.folder, name)
        page.set_viewport_size({"width": 1280, "height": 800})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """Serve one app with a scripted model and a worker thread, and one Chromium, for the module."""
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        scripted_model(monkeypatch, delay=STEP_DELAY) as model,
        fresh_app(tmp_path_factory.mktemp("journey"), open_registration=True) as app,
    ):
        consumer = start_consumer(app)
        try:
            with live_server(app) as url, launch_chromium() as browser:
                folder = screenshot_folder("plan-journey", tmp_path_factory)
                yield Site(url=url, model=model, browser=browser, folder=folder)
        finally:
            stop_consumer(app, consumer)


def create_project(site: Site, page, name: str = "Translators") -> str:
    """Create a project through the form; return the URL of the project page it lands on."""
    page.goto(f"{site.url}/projects/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Market segments").fill(SEGMENTS)
    page.get_by_label("Notes").fill("I want 60k a year.")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(re.escape(site.url) + r"/projects/\d+$"))
    return page.url


def watch_next_run(page) -> None:
    """Watch the run page this tab opens next (call before the click that opens it)."""
    page.evaluate(WATCH_NEXT_RUN)


def watch_to_the_end(page) -> list[str]:
    """Wait until the watched run is done; each stage not done at first load was seen to end."""
    # Returns the states the page's script set, in order (so from the event stream, not a reload).
    watched = page.wait_for_function(ALL_DONE, timeout=60_000, polling=50).json_value()
    before, seen = watched["before"], watched["seen"]
    assert before, "no run page was watched"
    assert before["marketing"] != "done", "the run had ended before its page loaded"
    for stage, state in before.items():
        if state != "done":
            assert f"{stage}:done" in seen, f"{stage} was not seen ending live: {seen}"
    return seen


def wait_for_plan(page) -> None:
    """Wait for the finished run page (the page reloads itself) to show the plan."""
    page.get_by_role("heading", name=re.compile(r"^Verdict: (go|pivot|no-go)$")).wait_for(
        timeout=20_000
    )


def wait_for_status(page, status: str) -> None:
    """Wait until the run page's status reads ``status``."""
    page.wait_for_function(
        "(status) => document.getElementById('run-status').textContent.trim() === status",
        arg=status,
        timeout=60_000,
    )


# The journey: one user, one page, step by step.


@dataclass
class Journey:
    """What the steps share: the page, the URLs reached and which steps passed."""

    page: object = None
    problems: PageProblems | None = None
    urls: dict[str, str] = field(default_factory=dict)
    passed: list[str] = field(default_factory=list)

    def after(self, step: str) -> None:
        """Skip this step unless ``step`` passed (a failure there is reported there)."""
        if step not in self.passed:
            pytest.skip(f"needs the step '{step}', which did not pass")
        self.problems.seen.clear()  # what an earlier step saw was reported there


@pytest.fixture(scope="module")
def journey(site) -> Iterator[Journey]:
    """The journey's shared state; its browser context is closed at the end."""
    state = Journey()
    yield state
    if state.page is not None:
        state.page.context.close()


def test_journey_register_and_create_a_project(site, journey):
    journey.page = page = site.new_user()
    journey.problems = PageProblems(page)
    project_url = create_project(site, page)
    assert page.get_by_role("heading", name="Translators", level=1).is_visible()
    assert page.get_by_role("button", name="Run analysis").is_visible()
    journey.urls["project"] = project_url
    site.shoot(page, "01-project")
    journey.problems.check()
    journey.passed.append("create")


def test_journey_run_an_analysis_and_watch_it_live_to_the_end(site, journey):
    journey.after("create")
    page = journey.page
    watch_next_run(page)
    page.get_by_role("button", name="Run analysis").click()
    page.wait_for_url(re.compile(re.escape(site.url) + r"/runs/\d+$"))
    journey.urls["run"] = page.url
    page.locator('.stage[data-stage="research"][data-state="running"]').wait_for()
    site.shoot(page, "02-run-working")
    seen = watch_to_the_end(page)
    assert "marketing:running" in seen and "marketing:done" in seen, seen
    wait_for_plan(page)
    assert page.locator("#run-status").inner_text() == "succeeded"
    # Nothing takes the focus by itself when the plan loads (a ringed panel, a scrolled page).
    assert page.evaluate("!document.activeElement.matches('.plan-panel')"), "a panel took focus"
    site.shoot(page, "03-run-finished")
    journey.problems.check()
    journey.passed.append("run")


PLAN_TABS = ["Summary", "Niches", "Solution", "Monetization", "Marketing", "Assumptions"]
VISITORS = "#a-funnel-monthly_visitors"
BASE_LINE = "#mrr-chart .chart-wide polyline[data-scenario='base']"
MRR_36 = "#mrr-table tr[data-month='36'] td[data-label='Base']"


def open_tab(page, name: str) -> None:
    """Open a plan tab with the mouse; it alone is selected and its panel shows."""
    page.get_by_role("tab", name=name).click()
    assert page.get_by_role("tab", name=name).get_attribute("aria-selected") == "true"
    assert page.get_by_role("tabpanel", name=name).is_visible()


def chart_and_numbers(page) -> tuple[str, str, str]:
    """The base MRR line's points, base MRR at month 36 (table) and the summary's MRR at 36."""
    summary = page.locator("#summary dd[data-key='mrr_month_36']")
    return (
        page.locator(BASE_LINE).get_attribute("points"),
        page.locator(MRR_36).text_content(),
        summary.text_content(),
    )


def test_journey_open_every_plan_tab(site, journey):
    journey.after("run")
    page = journey.page
    assert page.get_by_role("tab").all_inner_texts() == PLAN_TABS
    for name in PLAN_TABS:
        open_tab(page, name)
        site.shoot(page, f"04-tab-{name.lower()}")
    assert page.locator("#niches tr.chosen").count() == 1
    assert page.locator("#monetization svg").count() >= 1, "no MRR chart"
    journey.problems.check()
    journey.passed.append("tabs")


def test_journey_change_an_assumption_and_see_the_plan_change_without_a_reload(site, journey):
    journey.after("tabs")
    page = journey.page
    page.evaluate("window.__samePage = true")  # gone if the page reloads
    before = chart_and_numbers(page)
    open_tab(page, "Assumptions")
    visitors = page.locator(VISITORS)
    assert visitors.input_value() == "2,000" or visitors.input_value() == "2000"
    visitors.fill("5000")
    visitors.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('plan-announce')?.textContent === 'Plan recomputed'"
    )
    assert page.evaluate("window.__samePage") is True, "the page reloaded"
    after = chart_and_numbers(page)
    assert after[0] != before[0], "the chart's base line did not change"
    assert after[1] != before[1] and after[2] != before[2], (before, after)
    assert "Your value" in page.locator("li[data-key='funnel.monthly_visitors']").inner_text()
    site.shoot(page, "05-assumption-changed")
    open_tab(page, "Monetization")
    site.shoot(page, "05-monetization-after-change")
    journey.problems.check()
    journey.passed.append("assumption")


def test_journey_choose_another_niche_and_watch_the_rerun(site, journey):
    journey.after("run")
    page = journey.page
    open_tab(page, "Niches")
    chosen = page.locator("#niches tr.chosen td[data-label='Niche'] a").inner_text()
    other = page.locator("#niches tbody tr:not(.chosen)").first
    name = other.locator("td[data-label='Niche'] a").inner_text()
    assert name != chosen
    watch_next_run(page)
    other.get_by_role("button", name=re.compile("^Choose this niche")).click()
    page.wait_for_url(re.compile(re.escape(journey.urls["run"]) + r"(#.*)?$"))
    seen = watch_to_the_end(page)
    assert "solution:done" in seen and "marketing:done" in seen, seen
    assert "research:running" not in seen, "research was done again"
    wait_for_plan(page)
    assert page.get_by_role("heading", name=f"Plan for {name}").is_visible()
    open_tab(page, "Niches")
    assert page.locator("#niches tr.chosen td[data-label='Niche'] a").inner_text() == name
    site.shoot(page, "06-other-niche")
    journey.urls["niches"] = f"{chosen}|{name}"
    journey.problems.check()
    journey.passed.append("niche")


def test_journey_export_the_plan_as_markdown_and_json(site, journey):
    journey.after("niche")
    page = journey.page
    chosen = journey.urls["niches"].split("|")[1]
    with page.expect_download() as markdown:
        page.get_by_role("link", name="Download Markdown").click()
    text = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert markdown.value.suggested_filename.endswith(".md")
    assert text.startswith("#") and chosen in text
    with page.expect_download() as exported:
        page.get_by_role("link", name="Download JSON").click()
    plan = json.loads(Path(exported.value.path()).read_text(encoding="utf-8"))
    names = {niche["index"]: niche["name"] for niche in plan["niches"]}
    assert names[plan["chosen_niche"]] == chosen
    assert plan["summary"]["niche"] == chosen
    journey.problems.check()
    journey.passed.append("export")


def test_journey_compare_two_niches(site, journey):
    journey.after("niche")
    page = journey.page
    first, chosen = journey.urls["niches"].split("|")
    page.get_by_role("link", name="Compare with another niche or run").click()
    page.wait_for_url(re.compile(re.escape(site.url) + r"/compare\?"))
    option = page.locator("#compare-b option", has_text=first).first
    page.get_by_label("Compare with").select_option(option.get_attribute("value"))
    page.get_by_role("button", name="Compare", exact=True).click()
    table = page.locator("#compare-table")
    table.wait_for()
    niches = table.locator("tr[data-row='niche'] td").all_inner_texts()
    assert chosen in niches[0] and first in niches[1], niches
    for row in ("score", "som", "mrr_month_12", "mrr_month_36", "ltv_to_cac"):
        assert table.locator(f"tr[data-row='{row}'] td").count() == 2
    site.shoot(page, "07-compare")
    journey.problems.check()
    journey.passed.append("compare")


def test_journey_print_the_plan(site, journey):
    journey.after("niche")
    page = journey.page
    page.goto(journey.urls["run"])
    page.emulate_media(media="print")
    try:
        for name in PLAN_TABS:  # every panel prints, in order, without the tabs or the forms
            assert page.locator(f"#{name.lower()}").is_visible(), name
        for hidden in (".tabs-nav", ".site-header", "#run-live", "form"):
            assert not page.locator(hidden).first.is_visible(), hidden
        save_screenshot(page, site.folder / "08-print-1280.png")
        assert page.pdf(format="A4")[:5] == b"%PDF-"
    finally:
        page.emulate_media(media="screen")
    journey.problems.check()


# Standalone: cancel and resume, a failed run, a phone, the keyboard only.


def start_run(site: Site, page, model: str) -> str:
    """Create a project and start a run of it on ``model``; return the run page's URL."""
    # Model replies are cached by model and prompt: a model name of its own per test makes every
    # call of its run reach the (slow) scripted model, as a first run does.
    create_project(site, page)
    page.get_by_label("Model").fill(model)
    watch_next_run(page)
    page.get_by_role("button", name="Run analysis").click()
    page.wait_for_url(re.compile(re.escape(site.url) + r"/runs/\d+$"))
    return page.url


def test_cancel_a_working_run_then_resume_it_without_redoing_research(site):
    page = site.new_user()
    problems = PageProblems(page)
    site.model.delay = 1.0  # time enough to cancel before the run ends
    try:
        start_run(site, page, "scripted-cancel")
        page.locator('.stage[data-stage="research"][data-state="done"]').wait_for(timeout=30_000)
        ideas = site.model.model.calls("NicheIdeas")
        page.get_by_role("button", name="Cancel run").click()
        wait_for_status(page, "cancelled")
    finally:
        site.model.delay = STEP_DELAY
    resume = page.get_by_role("button", name="Resume run")
    resume.wait_for()
    assert page.locator('.stage[data-stage="research"][data-state="done"]').count() == 1
    assert page.locator('.stage[data-stage="marketing"][data-state="done"]').count() == 0
    site.shoot(page, "cancelled")
    watch_next_run(page)
    resume.click()
    watch_to_the_end(page)
    wait_for_plan(page)
    assert page.locator("#run-status").inner_text() == "succeeded"
    assert site.model.model.calls("NicheIdeas") == ideas, "research was done again"
    problems.check()


def test_a_failed_run_shows_its_error_and_resume_finishes_it(site):
    page = site.new_user()
    problems = PageProblems(page)
    site.model.model.overrides["Pricing"] = lambda prompt: '{"tiers": "not a list"}'
    try:
        start_run(site, page, "scripted-failing")
        wait_for_status(page, "failed")
        error = page.get_by_role("alert").filter(has_text="The run stopped:")
        error.wait_for()
        ideas = site.model.model.calls("NicheIdeas")
    finally:
        del site.model.model.overrides["Pricing"]
    assert "Pricing" in error.inner_text() or "tiers" in error.inner_text(), error.inner_text()
    assert page.locator('.stage[data-stage="solution"][data-state="done"]').count() == 1
    assert page.locator('.stage[data-stage="monetization"][data-state="failed"]').count() == 1
    site.shoot(page, "failed")
    watch_next_run(page)
    page.get_by_role("button", name="Resume run").click()
    watch_to_the_end(page)
    wait_for_plan(page)
    assert page.locator("#run-status").inner_text() == "succeeded"
    assert site.model.model.calls("NicheIdeas") == ideas, "research was done again"
    problems.check()


def assert_fits_a_phone(page) -> None:
    """Fail if the page, once loaded with its stylesheets, scrolls sideways at 390 px."""
    page.wait_for_load_state("load")  # a click may return before the next page's CSS applies
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide on a 390 px phone"


def test_the_run_flow_on_a_phone(site):
    page = site.new_user(width=390, is_mobile=True, has_touch=True)
    problems = PageProblems(page)
    assert_fits_a_phone(page)
    page.goto(f"{site.url}/projects/new")
    assert_fits_a_phone(page)
    start_run(site, page, "scripted-phone")
    assert_fits_a_phone(page)
    watch_to_the_end(page)
    wait_for_plan(page)
    assert_fits_a_phone(page)
    for name in PLAN_TABS:
        open_tab(page, name)
        assert_fits_a_phone(page)
        save_screenshot(page, site.folder / f"phone-tab-{name.lower()}-390.png")
    page.get_by_role("link", name="← Translators").click()
    assert_fits_a_phone(page)
    runs = page.get_by_role("table")
    assert runs.locator("td[data-label='Status']").first.inner_text() == "succeeded"
    problems.check()


# The focused element's name (its aria-label, label or text) and whether its focus shows.
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const label = el.labels && el.labels.length ? el.labels[0].textContent : "";
  return {name: (el.getAttribute("aria-label") || label || el.innerText || "").trim(),
          outline: style.outlineStyle, shadow: style.boxShadow};
}"""


def tab_to(page, name: str, *, limit: int = 80) -> None:
    """Press Tab until the element named ``name`` has the focus, and a visible focus ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["name"] == name:
            visible = focused["outline"] != "none" or focused["shadow"] != "none"
            assert visible, f"the focus on {name!r} does not show"
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_the_run_flow_with_the_keyboard_only(site):
    page = site.new_user()
    problems = PageProblems(page)
    create_project(site, page)  # the form is covered by the other tests; here: the run flow
    page.goto(page.url)  # start from the top of the project page, focus nowhere
    tab_to(page, "Model")
    page.keyboard.type("scripted-keyboard")
    tab_to(page, "Run analysis")
    watch_next_run(page)
    page.keyboard.press("Space")  # a button: Space presses it, as Enter does
    page.wait_for_url(re.compile(re.escape(site.url) + r"/runs/\d+$"))
    watch_to_the_end(page)
    wait_for_plan(page)

    tab_to(page, "Summary")  # the selected tab; the arrow keys move between tabs
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tabpanel", name="Niches").is_visible()
    page.keyboard.press("End")
    assert page.get_by_role("tab", name="Assumptions").get_attribute("aria-selected") == "true"
    assert page.evaluate(FOCUSED)["name"] == "Assumptions"
    page.evaluate("window.__samePage = true")
    # The first assumption of the chosen niche's open group: a problem's importance, 1 to 10.
    item = page.locator("#assumptions li.assumption").filter(has=page.locator("input:visible"))
    key = item.first.get_attribute("data-key")
    label = item.first.locator("label").inner_text()
    assert label.startswith("Importance"), label
    tab_to(page, label)
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('plan-announce')?.textContent === 'Plan recomputed'"
    )
    assert page.evaluate("window.__samePage") is True, "the page reloaded"
    changed = page.locator(f"li.assumption[data-key='{key}']")
    assert changed.locator("input[name='value']").input_value() == "3"
    assert "Your value" in changed.inner_text()
    assert page.evaluate(FOCUSED)["name"] == label, "the focus left the edited field"
    site.shoot(page, "keyboard-assumption-changed")
    problems.check()
