"""In Chromium: errors focused and tied to inputs, table labels at 390 px, colours in both modes."""

import re

import pytest
from sqlalchemy import update

from browser_support import (
    PageProblems,
    check_axe,
    fresh_app,
    save_screenshots,
    screenshot_folder,
)
from live_server import live_server
from paissive_income.auth.models import Role, User
from web_support import AuthActions

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "correct horse battery"


def _fits_and_passes_axe(page) -> None:
    """Fail if the page is wider than the window (a phone scrolls sideways) or axe objects."""
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide in a {width[1]} px window"
    check_axe(page)


@pytest.fixture
def shots(request, tmp_path_factory):
    """The folder this test's screenshots go to."""
    return screenshot_folder(request.node.name, tmp_path_factory)


@pytest.fixture
def site(tmp_path):
    with fresh_app(tmp_path) as app, live_server(app) as url:
        yield url


def _register(page, url: str, email: str = "admin@example.com") -> None:
    page.goto(f"{url}/register")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/(projects)?$"))


def test_registration_errors_are_all_shown_focused_and_tied(chromium, site, shots):
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    problems = PageProblems(page)
    page.goto(f"{site}/register")
    page.fill("#email", "not-an-email")
    page.fill("#password", "short")
    page.fill("#confirm", "other")
    page.click("button[type=submit]")
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator(".error-summary li").count() == 3
    for field in ("email", "password", "confirm"):
        described = page.get_attribute(f"#{field}", "aria-describedby").split()
        texts = [page.locator(f"#{i}").inner_text() for i in described]
        assert any("Error:" in t for t in texts), (field, texts)
        assert page.get_attribute(f"#{field}", "aria-invalid") == "true"
    page.click(".error-summary a[href='#password']")
    assert page.url.endswith("#password")
    check_axe(page)
    save_screenshots(page, shots, "register-errors", check=_fits_and_passes_axe)
    # The refused form is answered 400 on purpose (the browser logs that); nothing else may fail.
    problems.seen = [p for p in problems.seen if not p.endswith(("/register", "(BAD REQUEST)"))]
    problems.check()


def test_tables_keep_their_labels_on_a_phone(chromium, site, shots):
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    problems = PageProblems(page)
    _register(page, site)
    page.goto(f"{site}/account")
    page.fill("#name", "laptop")
    page.click("form.row button[type=submit]")
    page.wait_for_selector("#new-token")
    for path, first_label in (("/account", "Name: "), ("/admin/users", "Email: ")):
        page.goto(f"{site}{path}")
        save_screenshots(page, shots, path.strip("/").replace("/", "-"), check=_fits_and_passes_axe)
        # save_screenshots leaves the viewport at 390 px.
        before = page.evaluate(
            "getComputedStyle(document.querySelector('tbody td'), '::before').content"
        )
        assert before == f'"{first_label}"'
        assert page.evaluate("document.querySelector('thead').getBoundingClientRect().right") < 0
        labels = page.eval_on_selector_all("tbody td", "cells => cells.map(c => c.dataset.label)")
        assert all(labels)
        page.set_viewport_size({"width": 1280, "height": 800})
    problems.check()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_focus_ring_and_borders_use_the_checked_colours(chromium, site, scheme):
    page = chromium.new_page(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page.goto(f"{site}/login")
    expected = {"light": ("rgb(180, 83, 9)", "rgb(107, 118, 132)"),
                "dark": ("rgb(255, 191, 71)", "rgb(125, 138, 153)")}[scheme]  # fmt: skip
    page.keyboard.press("Tab")  # the skip link
    page.focus("#email")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # keyboard focus, so :focus-visible applies
    style = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineColor, s.outlineStyle, s.outlineWidth, s.borderTopColor]; })()"
    )
    assert page.evaluate("document.activeElement.id") == "email"
    assert style[0] == expected[0] and style[1] == "solid" and style[2] == "3px"
    assert style[3] == expected[1]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_confirmation_and_link_pages_pass_axe(chromium, tmp_path, shots, scheme):
    with fresh_app(tmp_path, open_registration=True) as app, live_server(app) as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
        problems = PageProblems(page)
        _register(page, url, "member@example.com")
        page.goto(f"{url}/account")
        page.fill("#name", "laptop")
        page.click("form.row button[type=submit]")
        page.click("a.danger-link")  # Revoke… opens the confirmation, no JavaScript involved
        assert page.locator("h1").inner_text() == "Revoke token “laptop”?"
        save_screenshots(page, shots, f"revoke-{scheme}", check=_fits_and_passes_axe)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.click("text=Yes, revoke it")
        assert "Token “laptop” revoked." in page.inner_text(".flashes")
        page.click("button.link-button")  # Log out
        assert "You have been logged out." in page.inner_text(".flashes")
        with app.extensions["paissive"].database.session() as session:
            session.execute(update(User).values(role=Role.ADMIN))  # the only user: made admin
            session.commit()
        page.goto(f"{url}/login")
        page.fill("#email", "member@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        AuthActions(app.test_client()).register("other@example.com")
        page.goto(f"{url}/admin/users")
        page.click("text=Reset password…>>nth=0")
        save_screenshots(page, shots, f"reset-confirm-{scheme}", check=_fits_and_passes_axe)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.click("text=Yes, reset the password")
        assert page.locator("#one-time-link").inner_text().startswith(url + "/reset-password/")
        save_screenshots(page, shots, f"reset-link-{scheme}", check=_fits_and_passes_axe)
        problems.check()
