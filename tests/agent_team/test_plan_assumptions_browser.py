"""Change an assumption in a real browser: the chart and numbers change, no reload, focus stays."""

from __future__ import annotations

import pytest
from test_plan_browser import finished_run, live_url

from browser_support import PageProblems, check_axe, fresh_app, save_screenshots, screenshots
from live_server import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

__all__ = ["live_url", "screenshots"]  # fixtures

VISITORS = "#a-funnel-monthly_visitors"
BASE_LINE = "#mrr-chart .chart-wide polyline[data-scenario='base']"
MRR_36 = "#mrr-table tr[data-month='36'] td[data-label='Base']"
# Holds the next answer of the server for a while, as a slow network or a busy server would.
SLOW_NEXT_ANSWER = """() => {
  const fetch = window.fetch;
  window.fetch = (...args) => {
    window.fetch = fetch;
    const later = (answer) => new Promise((done) => setTimeout(() => done(answer), 800));
    return fetch(...args).then(later);
  };
}"""


def recomputed(page, expected: str = "Plan recomputed") -> None:
    """Wait until the live region announces ``expected`` (then clear it for the next change)."""
    page.wait_for_function(
        "text => document.getElementById('plan-announce')?.textContent === text", arg=expected
    )
    page.evaluate("document.getElementById('plan-announce').textContent = ''")


def numbers(page) -> tuple[str, str]:
    """Return the base line's points and the base MRR at month 36 (hidden tabs are in the DOM)."""
    return page.locator(BASE_LINE).get_attribute("points"), page.locator(MRR_36).text_content()


def focused(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_change_an_assumption_and_reset_it_without_a_reload(chromium, live_url, screenshots):
    page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    problems = PageProblems(page)
    finished_run(page, live_url, email="money@example.com", segments="freelance translators")
    page.evaluate("window.__samePage = true")  # gone if the page reloads
    original = numbers(page)
    page.get_by_role("tab", name="Monetization").click()
    page.locator(BASE_LINE).wait_for()
    check_axe(page)
    save_screenshots(page, screenshots, "monetization")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("tab", name="Assumptions").click()
    visitors = page.locator(VISITORS)
    assert visitors.input_value() == "2000"
    visitors.fill("5000")
    visitors.press("Enter")
    recomputed(page)
    assert page.evaluate("window.__samePage") is True
    assert focused(page) == VISITORS[1:] and page.locator(VISITORS).input_value() == "5000"
    assert page.get_by_role("tab", name="Assumptions").get_attribute("aria-selected") == "true"
    changed = numbers(page)
    assert changed[0] != original[0] and changed[1] != original[1]
    row = page.locator("li[data-key='funnel.monthly_visitors']")
    assert "Your value" in row.inner_text() and "Model's value: 2,000" in row.inner_text()

    # By the change event (Tab away): focus moves on to Apply, and stays there after the swap.
    churn = page.locator("#a-funnel-monthly_churn")
    churn.fill("0.05")
    churn.press("Tab")
    recomputed(page)
    assert focused(page) == "a-funnel-monthly_churn-apply"
    check_axe(page)
    save_screenshots(page, screenshots, "assumptions-changed")
    page.set_viewport_size({"width": 1280, "height": 800})
    problems.check()

    # A refused value: the error at the input, nothing changed.
    visitors = page.locator(VISITORS)
    visitors.fill("lots")
    visitors.press("Enter")
    message = "Visitors in month 1: enter a plain number such as 1200 or 0.05."
    recomputed(page, message)
    assert page.locator(VISITORS).get_attribute("aria-invalid") == "true"
    assert focused(page) == VISITORS[1:]
    assert page.locator(f"{VISITORS}-error").inner_text() == message
    assert numbers(page)[1] != original[1]  # the stored 5000 still counts
    # The refusal is a 400, which the page problems record twice (response and console).
    problems.seen = [p for p in problems.seen if "400" not in p]

    # The answer to 3000 comes back while the user is typing 4000: what they typed stays.
    page.evaluate(SLOW_NEXT_ANSWER)
    visitors = page.locator(VISITORS)
    visitors.fill("3000")
    visitors.press("Enter")
    visitors.fill("4000")
    recomputed(page)
    assert page.locator(VISITORS).input_value() == "4000"
    # Two quick changes (the second sent while the first is on its way): the last one stays.
    page.evaluate(SLOW_NEXT_ANSWER)
    visitors.press("Enter")
    visitors.fill("6000")
    visitors.press("Enter")
    recomputed(page)
    assert page.locator(VISITORS).input_value() == "6000"
    page.reload()
    assert page.locator(VISITORS).input_value() == "6000"
    assert page.evaluate("window.__samePage") is None  # that was the test's reload
    page.evaluate("window.__samePage = true")

    page.locator("#a-funnel-monthly_churn-reset").click()
    recomputed(page)
    assert focused(page) == "a-funnel-monthly_churn"  # its Reset button went with the reset
    page.locator("#a-funnel-monthly_visitors-reset").click()
    recomputed(page)
    assert page.locator(VISITORS).input_value() == "2000"
    assert numbers(page) == original
    assert page.locator("#a-funnel-monthly_visitors-reset").count() == 0
    assert page.evaluate("window.__samePage") is True
    problems.check()


def test_print_shows_the_wide_chart_and_closed_sections(chromium, tmp_path):
    with fresh_app(tmp_path) as app, live_server(app) as url:
        page = chromium.new_page(viewport={"width": 390, "height": 800})
        page.goto(f"{url}/sample-plan#monetization")
        closed = page.locator("details.assumption-group:not([open]) li.assumption").first
        narrow, wide = (
            page.locator(f"#mrr-chart .chart-{size} polyline").first for size in ("narrow", "wide")
        )
        assert not closed.is_visible() and narrow.is_visible() and not wide.is_visible()
        page.emulate_media(media="print")
        assert closed.is_visible() and wide.is_visible() and not narrow.is_visible()
