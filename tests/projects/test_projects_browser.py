"""The dashboard in Chromium: search, sort and pages by keyboard alone; axe finds no problem."""

from __future__ import annotations

import pytest
from project_rows import add_projects

from browser_support import (
    PageProblems,
    check_axe,
    fresh_app,
    save_screenshots,
    screenshot_folder,
)
from live_server import live_server
from paissive_income.projects.listing import PER_PAGE
from web_support import AuthActions, csrf_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]
EMAIL, PASSWORD = "owner@example.com", "correct horse battery"


@pytest.fixture
def screenshots(tmp_path_factory):
    """The folder for this module's screenshots ($SCREENSHOT_DIR/dashboard when that is set)."""
    return screenshot_folder("dashboard", tmp_path_factory)


@pytest.fixture
def site(tmp_path):
    """A served app whose one user has two pages of "Match" projects and one other project."""
    with fresh_app(tmp_path) as app:
        AuthActions(app.test_client()).register(EMAIL, PASSWORD)
        projects = [(f"Match {i:02d}", ["translators"]) for i in range(PER_PAGE + 6)]
        add_projects(app, EMAIL, [("Other", ["podcasters"]), *projects])
        with live_server(app) as url:
            yield url


def _logged_in_page(chromium, url: str, scheme: str = "light"):
    context = chromium.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    login = context.request.get(f"{url}/login").text()
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_token(login)}
    assert context.request.post(f"{url}/login", form=form, max_redirects=0).status == 302
    return context.new_page()


def _press_tab_until(page, selector: str, limit: int = 150) -> None:
    """Move the focus with Tab until ``selector`` has it (fails if it never does)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_search_sort_and_pages_by_keyboard(chromium, site, screenshots):
    page = _logged_in_page(chromium, site)
    problems = PageProblems(page)
    page.goto(site + "/")
    _press_tab_until(page, "#listing-q")
    page.keyboard.type("match")
    _press_tab_until(page, "#listing-sort")
    page.keyboard.press("End")  # the last option: Name
    _press_tab_until(page, "#listing-order")
    page.keyboard.press("Home")  # Ascending
    _press_tab_until(page, ".listing-controls button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=match&sort=name&order=asc")
    assert page.locator(".project h2").first.inner_text() == "Match 00"
    assert (
        page.locator("#listing-status")
        .inner_text()
        .startswith(f"Showing 1–{PER_PAGE} of {PER_PAGE + 6} projects matching “match”")
    )
    _press_tab_until(page, 'a[rel="next"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=match&sort=name&page=2")  # asc is the default for name
    assert (
        page.get_by_role("link", name="Page 2", exact=True).get_attribute("aria-current") == "page"
    )
    assert page.locator(".project h2").all_inner_texts() == [
        f"Match {i:02d}" for i in range(PER_PAGE, PER_PAGE + 6)
    ]
    save_screenshots(page, screenshots, "dashboard-page-2", check=check_axe)
    problems.check()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_refused_query_values_are_shown_and_accessible(chromium, site, screenshots, scheme):
    page = _logged_in_page(chromium, site, scheme)
    response = page.goto(site + "/?q=a%00b&sort=evil&page=-1")
    assert response.status == 400
    assert page.locator("#listing-q").get_attribute("aria-invalid") == "true"
    assert "found U+0000" in page.locator("#listing-q-error").inner_text()
    save_screenshots(page, screenshots, f"dashboard-errors-{scheme}", check=check_axe)
    empty = page.goto(site + "/?q=nothing%20here")
    assert empty.status == 200
    assert page.get_by_role("heading", name="No projects match “nothing here”").is_visible()
    save_screenshots(page, screenshots, f"dashboard-no-match-{scheme}", check=check_axe)
