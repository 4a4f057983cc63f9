"""The Assumptions panel and the Monetization tab: edit a value and the plan is recomputed."""

from __future__ import annotations

import html
import re

import pytest
from plan_support import project, run_id, scripted

from agent_team.pipeline import load_artifacts
from agent_team.plan import compute_plan
from agent_team.runs import service
from agent_team.runs.models import AssumptionOverride
from agent_team.runs.plan_pages import plan_money
from web_support import AuthActions, concurrently, csrf_token

__all__ = ["project", "run_id", "scripted"]  # fixtures

VISITORS = "funnel.monthly_visitors"
VISITOR_BOUNDS = "enter a value from 0 to 10,000,000 (visitors per month)"
FRAGMENT = {"X-Plan-Fragment": "1", "Accept": "text/html"}


def database(app):
    return app.extensions["paissive"].database


def stored(app, run_id: int) -> dict[str, float]:
    with database(app).session() as session:
        return service.stored_overrides(session, run_id)


def expected_plan(app, run_id: int, overrides: dict[str, float]):
    """Return the plan compute_plan makes of the run's artifacts with ``overrides``: no web."""
    with database(app).session() as session:
        run = service.get_run(session, owner_id=1, run_id=run_id)
        artifacts = load_artifacts(service.stored_artifacts(session, run_id))
        return compute_plan(
            brief=service.brief_of(run), artifacts=artifacts, overrides=overrides, strict=False
        )


def mrr_36(page: str) -> str:
    """Return the base MRR at month 36 as the page's key-month table shows it."""
    row = re.search(r'<tr data-month="36">(.*?)</tr>', page, re.S).group(1)
    return html.unescape(re.search(r'data-label="Base" class="num">([^<]*)<', row).group(1))


def base_points(page: str) -> str:
    return re.search(r'data-scenario="base" points="([^"]*)"', page).group(1)


def post(client, run_id: int, page: str, *, fragment: bool = False, **fields):
    data = {"csrf_token": csrf_token(page), "action": "set", **fields}
    return client.post(
        f"/runs/{run_id}/assumptions", data=data, headers=FRAGMENT if fragment else {}
    )


def item(page: str, key: str) -> str:
    """Return the HTML of one assumption's row."""
    match = re.search(
        rf'<li class="assumption [^"]*" data-key="{re.escape(key)}">(.*?)</li>', page, re.S
    )
    assert match, f"no row for {key}"
    return match.group(1)


def test_every_assumption_shows_with_source_confidence_and_rationale(app, client, run_id):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    plan = expected_plan(app, run_id, {})
    assert len(plan.assumptions) > 50
    for assumption in plan.assumptions:
        row = item(page, assumption.key)
        source = {"model": "Model", "default": "Default", "user": "Your value"}[assumption.source]
        assert f'source-badge-{assumption.source}">{source}<' in row
        assert f"{assumption.confidence} confidence" in row
        assert assumption.rationale in html.unescape(row)
        field = "a-" + assumption.key.replace(".", "-")
        assert f'id="{field}"' in row and f'for="{field}"' in row
        assert f'aria-describedby="{field}-about"' in row
    for section in (
        "Niche ranked 1:",
        "Solution",
        "Pricing",
        "Funnel and costs",
        "Marketing",
        "Founder",
    ):
        assert f'<h3 class="group-title">{section}' in page
    impact = item(page, "solution.features.0.impact")  # a scale: a select of its choices
    assert "<select" in impact and '<option value="0.25"' in impact


def test_the_monetization_tab_draws_the_chart_table_and_reading(app, client, run_id):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    plan = expected_plan(app, run_id, {})
    money = plan.monetization
    assert 'role="img" aria-labelledby="mrr-title mrr-desc"' in page
    assert '<title id="mrr-title">' in page and '<title id="mrr-title-narrow">' in page
    for scenario in ("low", "base", "high"):
        assert f'class="chart-line chart-line-{scenario}" data-scenario="{scenario}"' in page
    assert mrr_36(page) == plan_money(money.projections.base.months[-1].mrr_cents / 100)
    key_months = re.findall(r'<tr data-month="(\d+)">', page)
    assert key_months == ["1", "3", "6", "12", "18", "24", "30", "36"]
    assert page.count('<td data-label="Month">') == 8 + 36  # the key months and all 36
    assert f"${money.arpa:,.2f} a month" in page
    ltv = money.unit_economics.ltv
    assert f"Each customer brings ${ltv:,.0f} of gross profit" in html.unescape(page)
    for tier in money.tiers_above_willingness:
        assert re.search(rf"{re.escape(tier)} <span class=\"badge badge-warning\">above", page)


def test_changing_visitors_recomputes_the_numbers_and_the_chart(app, client, run_id):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    before, before_points = mrr_36(page), base_points(page)
    response = post(client, run_id, page, fragment=True, key=VISITORS, value="5000")
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="plan"')
    expected = expected_plan(app, run_id, {VISITORS: 5000.0}).monetization.projections.base
    assert mrr_36(fragment) == plan_money(expected.months[-1].mrr_cents / 100) != before
    assert base_points(fragment) != before_points
    assert stored(app, run_id) == {VISITORS: 5000.0}
    row = item(fragment, VISITORS)
    assert 'value="5000"' in row and "Your value" in row and "Model's value: 2,000" in row
    assert ">Reset</button>" in row
    # The run page shows the same recomputed plan.
    assert mrr_36(client.get(f"/runs/{run_id}").get_data(as_text=True)) == mrr_36(fragment)


def test_without_javascript_the_form_redirects_to_the_assumptions_with_a_message(
    app, client, run_id
):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    response = post(client, run_id, page, key="funnel.monthly_churn", value=" 0.06 ")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/runs/{run_id}#assumptions"
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Monthly churn set (0.06 share per month); plan recomputed." in shown
    assert stored(app, run_id) == {"funnel.monthly_churn": 0.06}


def test_reset_restores_the_model_value(app, client, run_id):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    original = mrr_36(page)
    post(client, run_id, page, key=VISITORS, value="100")
    changed = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert mrr_36(changed) != original
    response = post(client, run_id, changed, fragment=True, key=VISITORS, action="reset")
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and stored(app, run_id) == {}
    assert mrr_36(fragment) == original
    row = item(fragment, VISITORS)
    assert 'value="2000"' in row and "Reset" not in row and "source-badge-model" in row
    redirect = post(client, run_id, changed, key=VISITORS, action="reset")  # already reset: fine
    assert redirect.status_code == 302
    assert "reset to the model" in client.get(redirect.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (VISITORS, "-5", f"Visitors in month 1: {VISITOR_BOUNDS}."),
        (VISITORS, "1e300", f"Visitors in month 1: {VISITOR_BOUNDS}."),
        (VISITORS, "1e999", "Visitors in month 1: that number is too large."),
        (VISITORS, "nan", "Visitors in month 1: enter a plain number such as 1200 or 0.05."),
        (VISITORS, "inf", "Visitors in month 1: enter a plain number"),
        (VISITORS, "lots", "Visitors in month 1: enter a plain number"),
        (VISITORS, "12\x0034", "Visitors in month 1: enter a plain number"),
        (VISITORS, "1\n2", "Visitors in month 1: enter a plain number"),
        (VISITORS, "0x10", "Visitors in month 1: enter a plain number"),
        (VISITORS, "1" * 400, "Visitors in month 1: enter a plain number"),
        (VISITORS, "", "Visitors in month 1: enter a number."),
        (
            "funnel.monthly_churn",
            "1.5",
            "Monthly churn: enter a value from 0 to 1 (share per month).",
        ),
        (
            "solution.features.0.impact",
            "4",
            "Impact (feature 1): choose one of 0.25, 0.5, 1, 2, 3.",
        ),
    ],
)
@pytest.mark.parametrize("fragment", [False, True], ids=["form", "fetch"])
def test_a_refused_value_shows_the_error_at_its_input_and_stores_nothing(
    app, client, run_id, key, value, message, fragment
):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    response = post(client, run_id, page, fragment=fragment, key=key, value=value)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    field = "a-" + key.replace(".", "-")
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', body)
    assert error and html.unescape(error.group(1)).startswith(message)
    assert f'aria-describedby="{field}-about {field}-error" aria-invalid="true"' in body
    assert "\x00" not in body
    assert stored(app, run_id) == {}
    assert body.lstrip().startswith('<div id="plan"') == fragment


@pytest.mark.parametrize("key", ["no.such.key", "funnel.monthly_churn\x00", ""])
def test_an_unknown_assumption_is_a_400(app, client, run_id, key):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    response = post(client, run_id, page, key=key, value="1")
    assert response.status_code == 400
    assert "no such assumption" in response.get_data(as_text=True)
    assert stored(app, run_id) == {}


def test_another_users_run_is_404_and_unchanged(app, client, run_id):
    other = app.test_client()
    AuthActions(other).register("bob@example.com")
    page = other.get("/account").get_data(as_text=True)
    assert post(other, run_id, page, key=VISITORS, value="5").status_code == 404
    assert post(other, run_id + 100, page, key=VISITORS, value="5").status_code == 404
    assert stored(app, run_id) == {}


def test_missing_csrf_token_is_refused(app, client, run_id):
    response = client.post(f"/runs/{run_id}/assumptions", data={"key": VISITORS, "value": "5"})
    assert response.status_code == 400
    assert stored(app, run_id) == {}


def test_a_logged_out_visitor_is_sent_to_log_in(app, client, run_id):
    client.post(
        "/logout", data={"csrf_token": csrf_token(client.get("/account").get_data(as_text=True))}
    )
    response = app.test_client().post(f"/runs/{run_id}/assumptions", data={"key": VISITORS})
    assert response.status_code in (302, 400)
    assert stored(app, run_id) == {}


def test_the_sample_plan_shows_the_assumptions_without_inputs(client):
    page = client.get("/sample-plan").get_data(as_text=True)
    assert 'id="assumptions-panel"' in page and "is-readonly" in page
    assert 'name="value"' not in page and "assumptions.js" not in page
    assert page.count('<li class="assumption source-') > 50
    assert 'data-scenario="base"' in page


def test_thirty_simultaneous_posts_leave_one_row_with_one_of_the_values(app, client, run_id):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    token, cookie = csrf_token(page), client.get_cookie("session")
    values = [str(1000 + i) for i in range(30)]

    def action(i: int, go) -> int:
        own = app.test_client()
        own.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
        go()
        data = {"csrf_token": token, "key": VISITORS, "value": values[i], "action": "set"}
        return own.post(f"/runs/{run_id}/assumptions", data=data).status_code

    statuses = concurrently(30, action)
    assert statuses == [302] * 30
    with database(app).session() as session:
        rows = session.query(AssumptionOverride).filter_by(run_id=run_id).all()
    assert len(rows) == 1 and rows[0].key == VISITORS
    assert f"{rows[0].value:g}" in values
