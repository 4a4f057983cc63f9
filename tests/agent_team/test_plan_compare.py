"""Compare two niches of a run or two runs; the public sample plan; the print stylesheet."""

from __future__ import annotations

import json
import re

import pytest
from plan_support import money, plan_of, project, run_id, run_to_end, scripted, text

from agent_team.plan import Plan
from agent_team.plan.sample import sample_plan

__all__ = ["project", "run_id", "scripted"]  # fixtures


def compare_rows(page: str) -> dict[str, list[str]]:
    """Return the side-by-side table as {row: [left cell, right cell]}."""
    table = re.search(r'<table class="plan-table compare-table".*?</table>', page, re.S)
    assert table, "no comparison table"
    rows = re.findall(r'<tr data-row="(\w+)">(.*?)</tr>', table.group(0), re.S)
    return {
        key: [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        for key, cells in rows
    }


def test_compare_two_niches_of_a_run(client, app, run_id):
    plan = plan_of(app, run_id)
    chosen = next(n for n in plan.niches if n.index == plan.chosen_niche)
    other = next(n for n in plan.niches if n.index != plan.chosen_niche)
    page = client.get(f"/compare?a={run_id}:{chosen.index}&b={run_id}:{other.index}")
    assert page.status_code == 200
    rows = compare_rows(page.get_data(as_text=True))
    assert f"Run {run_id}, niche ranked {other.rank}</th>" in page.get_data(as_text=True)
    assert rows["niche"] == [chosen.name, other.name]
    assert rows["score"] == [f"{chosen.score.total:,.1f} / 100", f"{other.score.total:,.1f} / 100"]
    assert rows["som"] == [money(chosen.market.som), money(other.market.som)]
    s = plan.summary
    assert rows["mrr_month_12"] == [money(s.mrr_month_12), "n/a"]  # the other was not designed
    assert rows["mrr_month_36"] == [money(s.mrr_month_36), "n/a"]
    assert rows["ltv_to_cac"] == [f"{s.ltv_to_cac:,.1f}", "n/a"]


def test_compare_two_runs_side_by_side(client, app, project, run_id):
    second = run_to_end(client, project)
    page = client.get(f"/compare?a={run_id}&b={second}").get_data(as_text=True)
    rows = compare_rows(page)
    for column, rid in enumerate((run_id, second)):
        s = plan_of(app, rid).summary
        assert rows["mrr_month_12"][column] == money(s.mrr_month_12)
        assert rows["mrr_month_36"][column] == money(s.mrr_month_36)
        assert rows["ltv_to_cac"][column] == f"{s.ltv_to_cac:,.1f}"
        assert rows["som"][column] == money(s.som)
    # The chooser offers the niches of the first run and the user's other runs.
    assert f'<option value="{second}" selected>' in page
    assert f'<option value="{run_id}:0"' in page


def test_compare_without_a_second_side_offers_the_choice(client, run_id):
    page = client.get(f"/compare?a={run_id}").get_data(as_text=True)
    assert 'id="compare-b"' in page and "compare-table" not in page


def test_the_run_page_and_the_project_page_lead_to_compare(client, project, run_id):
    assert f'href="/compare?a={run_id}"' in client.get(f"/runs/{run_id}").get_data(as_text=True)
    listing = client.get(f"/projects/{project}").get_data(as_text=True)
    assert f'href="/compare?a={run_id}"' in listing


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "a"),
        ("a=", "a"),
        ("a=1%00", "a"),
        ("a=-1", "a"),
        ("a=1.5", "a"),
        ("a=%EF%BC%91", "a"),  # a full-width digit one
        ("a=99999999999", "a"),
        ("a=0", "a"),
        ("a=1:1000", "a"),
        ("a=1&b=x", "b"),
        ("a=1&b=1:%0A2", "b"),
        ("a=1&b=" + "9" * 5000, "b"),
    ],
)
def test_malformed_compare_queries_are_400_naming_the_field(client, run_id, query, field):
    response = client.get(f"/compare?{query}")
    assert response.status_code == 400
    assert f"Check the comparison: {field}:" in text(response.get_data(as_text=True))


def test_foreign_runs_and_missing_niches_are_404(client, auth, run_id):
    assert client.get(f"/compare?a={run_id}&b={run_id}:99").status_code == 404
    assert client.get(f"/compare?a={run_id + 1000}").status_code == 404
    auth.logout()
    auth.register("other@example.com")
    assert client.get(f"/compare?a={run_id}").status_code == 404


def test_the_sample_plan_is_public_readonly_and_shows_the_sample_numbers(client):
    response = client.get("/sample-plan")
    assert response.status_code == 200  # no login
    page = response.get_data(as_text=True)
    assert "This is a sample." in page
    assert "<form" not in page and "Choose this niche" not in page and "/compare" not in page
    plan = sample_plan()
    assert f"Verdict: {plan.summary.verdict.decision}" in text(page)
    assert f"MRR at month 36 {money(plan.summary.mrr_month_36)}" in text(page)
    md = client.get("/sample-plan.md")
    assert md.headers["Content-Disposition"] == 'attachment; filename="sample-plan.md"'
    as_json = client.get("/sample-plan.json").get_data(as_text=True)
    assert Plan.model_validate(json.loads(as_json)) == plan


def test_the_sample_artifacts_make_every_stage_of_the_plan():
    plan = sample_plan()
    assert plan.solution and plan.monetization and plan.marketing and plan.summary
    assert len(plan.niches) >= 2


def test_the_print_stylesheet_shows_every_panel_and_hides_the_controls(client, run_id):
    css = client.get("/static/plan.css").get_data(as_text=True)
    printing = css[css.index("@media print") :]
    assert ".tabs-panel[hidden] { display: block !important; }" in printing
    for hidden in (".site-header", ".no-print", ".tabs-nav", "form", "button", "#run-live"):
        assert hidden in printing.split("{")[1]  # the first rule: display: none
    assert "break-before: page" in printing
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert 'class="plan-actions no-print"' in page
