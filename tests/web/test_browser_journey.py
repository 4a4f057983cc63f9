"""A new user's first visit, in a real browser: register, log in, create a project, see it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from browser_support import PageProblems, fresh_app, save_screenshot
from live_server import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL, PASSWORD = "newcomer@example.com", "correct horse battery"
SEGMENTS = ("freelance illustrators", "indie game studios")


@pytest.fixture
def live_url(tmp_path) -> Iterator[str]:
    """Serve a fresh app on SQLite in ``tmp_path`` over real HTTP."""
    with fresh_app(tmp_path) as app, live_server(app) as url:
        yield url


def test_register_login_create_project_and_see_it(chromium, live_url, tmp_path):
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    problems = PageProblems(page)

    page.goto(f"{live_url}/register")
    problems.check()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{live_url}/")
    assert page.get_by_role("heading", name="Your projects").is_visible()
    problems.check()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Log in").is_visible()
    page.goto(f"{live_url}/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_url}/")
    problems.check()

    page.get_by_role("link", name="New project").click()
    page.wait_for_url(f"{live_url}/projects/new")
    problems.check()
    page.get_by_label("Name").fill("Illustration marketplace")
    page.get_by_label("Market segments").fill("\n".join(SEGMENTS))
    page.get_by_label("Notes").fill("Start with commissions, then templates.")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(re.escape(live_url) + r"/projects/\d+$"))  # the project page
    assert page.get_by_role("button", name="Run analysis").is_visible()
    page.get_by_role("link", name="Projects").click()
    page.wait_for_url(f"{live_url}/")

    project = page.locator("li.project").filter(has_text="Illustration marketplace")
    assert project.count() == 1
    segments = project.get_by_role("list", name="Market segments").get_by_role("listitem")
    assert segments.all_inner_texts() == list(SEGMENTS)
    problems.check()

    save_screenshot(page, tmp_path / "dashboard.png")
