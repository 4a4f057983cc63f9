"""The plan's tabs in a real browser: mouse and keyboard, kept in the URL, 1280 and 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from run_pages import scripted_model, start_consumer, stop_consumer

from browser_support import PageProblems, check_axe, fresh_app, save_screenshots, screenshots
from live_server import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

__all__ = ["screenshots"]  # the fixture

TABS = ["Summary", "Niches", "Solution", "Monetization", "Marketing", "Assumptions"]


@pytest.fixture
def live_url(tmp_path, monkeypatch) -> Iterator[str]:
    """Serve the app with the scripted model and a consumer thread working runs."""
    with scripted_model(monkeypatch), fresh_app(tmp_path) as app:
        consumer = start_consumer(app)
        try:
            with live_server(app) as url:
                yield url
        finally:
            stop_consumer(app, consumer)


def finished_run(
    page,
    url: str,
    *,
    email: str = "tabs@example.com",
    segments: str = "freelance translators\ntranslation agencies",
) -> None:
    """Register, create a project and run it; wait for the finished run page with its plan."""
    page.goto(f"{url}/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_label("Repeat password").fill("correct horse battery")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{url}/")
    page.goto(f"{url}/projects/new")
    page.get_by_label("Name").fill("Translators")
    page.get_by_label("Market segments").fill(segments)
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("button", name="Run analysis").click()
    page.wait_for_url(re.compile(re.escape(url) + r"/runs/\d+$"))
    page.get_by_role("tablist", name="Plan sections").wait_for(timeout=60_000)


def selected(page) -> list[str]:
    """Return the names of the selected tabs (exactly one when the tabs work)."""
    return page.locator('[role="tab"][aria-selected="true"]').all_inner_texts()


def visible_panels(page) -> list[str]:
    return [p.get_attribute("id") for p in page.locator(".tabs-panel").all() if p.is_visible()]


def test_plan_tabs_by_mouse_and_keyboard_keep_the_tab_in_the_url(chromium, live_url, screenshots):
    page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    problems = PageProblems(page)
    finished_run(page, live_url)
    tabs = page.get_by_role("tab")
    assert tabs.all_inner_texts() == TABS
    assert selected(page) == ["Summary"] and visible_panels(page) == ["summary"]
    assert page.get_by_role("heading", name=re.compile(r"^Verdict: (go|pivot|no-go)$")).is_visible()
    check_axe(page)

    for name in TABS:  # by mouse
        page.get_by_role("tab", name=name).click()
        assert selected(page) == [name] and visible_panels(page) == [name.lower()]
        assert page.url.endswith("#" + name.lower())
        assert page.get_by_role("tabpanel", name=name).is_visible()
        save_screenshots(page, screenshots, f"tab-{name.lower()}")
        page.set_viewport_size({"width": 1280, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    page.get_by_role("tab", name="Niches").click()
    page.reload()  # the hash keeps the tab
    assert selected(page) == ["Niches"] and visible_panels(page) == ["niches"]

    page.get_by_role("tab", name="Niches").focus()  # by keyboard: arrows, Home, End
    for key, name in [
        ("ArrowRight", "Solution"),
        ("ArrowRight", "Monetization"),
        ("ArrowLeft", "Solution"),
        ("End", "Assumptions"),
        ("ArrowRight", "Summary"),
        ("ArrowLeft", "Assumptions"),
        ("Home", "Summary"),
    ]:
        page.keyboard.press(key)
        assert selected(page) == [name], key
        assert page.evaluate("document.activeElement.textContent") == name
        assert visible_panels(page) == [name.lower()]
    page.keyboard.press("Tab")  # from the tab into its panel
    assert page.evaluate("document.activeElement.id") == "summary"

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name="Niches").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "wider than a phone"
    label = page.evaluate(
        """() => getComputedStyle(document.querySelector('.niche-ranking td[data-label]'),
                                  '::before').content"""
    )
    assert "Rank" in label  # the column labels stay at phone width
    problems.check()


def test_without_javascript_every_panel_shows_in_order(chromium, live_url):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    finished_run(context.new_page(), live_url)
    run_url = context.pages[0].url.split("#")[0]
    page = chromium.new_context(
        java_script_enabled=False, storage_state=context.storage_state()
    ).new_page()
    page.goto(run_url)
    assert visible_panels(page) == [name.lower() for name in TABS]
    assert page.get_by_role("tab").count() == 0  # plain links to the panels instead
    page.get_by_role("link", name="Marketing", exact=True).click()
    assert page.url.endswith("#marketing")


def test_a_plan_page_loads_without_moving_focus_or_the_url(chromium, live_url):
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_url}/sample-plan")
    page.get_by_role("tablist", name="Plan sections").wait_for()
    # Writing the hash while the page loads made Chromium scroll to the panel and focus it.
    assert page.evaluate("[document.activeElement.tagName, location.hash, window.scrollY]") == [
        "BODY",
        "",
        0,
    ]
    assert selected(page) == ["Summary"]
    page.get_by_role("tab", name="Niches").click()
    assert page.evaluate("location.hash") == "#niches"
