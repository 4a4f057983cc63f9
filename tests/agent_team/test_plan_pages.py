"""The plan in the browser without a browser: each tab's content, choosing a niche, exports."""

from __future__ import annotations

import json
import re

from plan_support import money, panel, plan_of, project, run_id, run_to_end, scripted, text
from sqlalchemy import delete, update

from agent_team.plan import Plan
from agent_team.runs import service
from agent_team.runs.models import Run, RunArtifact, RunStatus
from web_support import csrf_token

__all__ = ["project", "run_id", "scripted"]  # fixtures

HOSTILE = "<script>alert(1)</script> **bold** [x](http://evil.example) | a_b"


def test_the_run_page_has_every_tab_in_order_and_works_without_javascript(client, run_id):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    tabs = re.findall(r'<a class="tabs-tab" id="tab-(\w+)" href="#(\w+)"', page)
    names = ["summary", "niches", "solution", "monetization", "marketing", "assumptions"]
    assert tabs == [(name, name) for name in names]
    # Without JS every panel is in the page, in order, none hidden; the script upgrades them.
    sections = re.findall(r'<section id="(\w+)" class="tabs-panel plan-panel"', page)
    assert sections == names
    assert " hidden" not in re.search(r'<div id="plan".*', page, re.S).group(0).split(">")[0]
    assert '<div id="plan" class="plan" data-tabs' in page
    assert "/static/tabs.js" in page and "/static/plan.css" in page
    assert "<script>" not in page  # no inline script: the CSP forbids it


def test_summary_shows_the_verdict_reasons_and_key_numbers_of_the_plan(client, app, run_id):
    plan = plan_of(app, run_id)
    summary = text(panel(client.get(f"/runs/{run_id}").get_data(as_text=True), "summary"))
    s = plan.summary
    assert f"Verdict: {s.verdict.decision}" in summary and s.niche in summary
    for reason in s.verdict.reasons:
        assert reason.message in summary
    assert f"Obtainable market (SOM) {money(s.som)} a year" in summary
    assert f"MRR at month 12 {money(s.mrr_month_12)}" in summary
    assert f"MRR at month 36 {money(s.mrr_month_36)}" in summary
    assert f"LTV:CAC {s.ltv_to_cac:,.1f}" in summary
    assert f"CAC payback {s.cac_payback_months:,.1f} months" in summary
    assert f"Break-even month {s.break_even_month}" in summary


def test_niches_show_ranking_breakdown_bars_market_and_competitors(client, app, run_id):
    plan = plan_of(app, run_id)
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    niches = panel(page, "niches")
    rows = re.findall(r'<tr(?: class="chosen")? data-niche="(\d+)">', niches)
    assert [int(i) for i in rows] == [n.index for n in plan.niches]  # ranked order
    shown = text(niches)
    for niche in plan.niches:
        assert f"{niche.score.total:,.1f} / 100" in shown
        for size in (niche.market.tam, niche.market.sam, niche.market.som):
            assert f"{money(size)} a year" in shown
        for competitor in niche.competitors:
            assert competitor["kind"] in shown and competitor["weakness"] in shown
            assert money(competitor["monthly_price"]) in shown
        for problem in niche.problems:
            assert problem["problem"] in shown
        article = re.search(
            rf'<article class="niche" id="niche-{niche.index}".*?</article>', page, re.S
        )
        widths = re.findall(r'class="bar-fill" width="([\d.]+)"', article.group(0))
        assert [float(w) for w in widths] == [
            round(f.normalised * 100, 1) for f in niche.score.factors
        ]
        for factor in niche.score.factors:
            assert f"{factor.points:,.1f} of {factor.weight * 100:,.0f} points" in text(
                article.group(0)
            )
    chosen = next(n for n in plan.niches if n.index == plan.chosen_niche)
    assert f"{chosen.name} (chosen)" in shown
    # One "choose" form per niche that is not the chosen one.
    assert niches.count('class="inline choose-niche"') == len(plan.niches) - 1


def test_solution_and_marketing_show_the_plans_content(client, app, run_id):
    plan = plan_of(app, run_id)
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    solution, marketing = text(panel(page, "solution")), text(panel(page, "marketing"))
    sol = plan.solution
    assert sol.concept["name"] in solution and sol.concept["one_liner"] in solution
    for feature in sol.features:
        assert f"{feature.rank} {feature.name}" in solution
        assert f"{feature.rice:,.0f}" in solution
    assert solution.count("MVP") - solution.count("MVP scope") == 1 + sum(
        f.in_mvp for f in sol.features
    )  # the column head, and one mark per MVP feature
    assert f"{sol.mvp_effort:g} person-months of effort" in solution
    for choice in sol.stack:
        assert choice["choice"] in solution and choice["why"] in solution
    for milestone in sol.milestones:
        assert f"{milestone['name']} ({milestone['weeks']:g} weeks)" in solution
    assert f"In all: {sol.total_weeks:g} weeks" in solution
    mk = plan.marketing
    assert (
        f"Budget {money(mk.monthly_budget)} a month; blended CAC {money(mk.blended_cac)}"
        in marketing
    )
    for persona in mk.personas:
        assert persona["name"] in marketing and persona["role"] in marketing
    for channel in mk.channels:
        share = 100 * channel["monthly_budget"] / mk.monthly_budget
        assert f"{channel['name']} {money(channel['monthly_budget'])} ({share:.0f}%)" in marketing
        assert money(channel["cac"]) in marketing
    for step in mk.launch_plan:
        assert step in marketing
    for item in mk.calendar:
        assert f"{item['week']} {item['channel']} {item['topic']}" in marketing
    for kpi in mk.kpis:
        assert f"{kpi['name']} {kpi['target']:g} {kpi['unit']}" in marketing
    assert mk.copy_text["headline"] in marketing and mk.copy_text["social_posts"][0] in marketing


def test_a_stage_that_has_not_run_says_so(client, app, run_id):
    with app.extensions["paissive"].database.session() as session:
        session.execute(
            delete(RunArtifact).where(
                RunArtifact.run_id == run_id, RunArtifact.stage.in_(["monetization", "marketing"])
            )
        )
        session.execute(update(Run).where(Run.id == run_id).values(status=RunStatus.FAILED))
        session.commit()
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "The monetization stage has not run yet" in text(panel(page, "monetization"))
    assert "The marketing stage has not run yet" in text(panel(page, "marketing"))
    assert "resume the run" in text(panel(page, "summary"))
    assert "TermGuard" in text(panel(page, "solution"))  # the stage that did run still shows


def _choose(client, run_id: int, niche: int, *, token: bool = True):
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page)} if token else {}
    return client.post(f"/runs/{run_id}/niches/{niche}/choose", data=data)


def test_choose_another_niche_queues_the_run_from_its_solution_stage(client, app, run_id):
    before = plan_of(app, run_id)
    other = next(n.index for n in before.niches if n.index != before.chosen_niche)
    app.extensions["agent_team"].queue.huey.immediate = False  # no worker: it stays queued
    response = _choose(client, run_id, other)
    assert response.status_code == 302 and response.headers["Location"] == f"/runs/{run_id}"
    with app.extensions["paissive"].database.session() as session:
        run = session.get(Run, run_id)
        assert run.status == RunStatus.QUEUED and run.niche_index == other
        assert set(service.stored_artifacts(session, run_id)) == {"research"}
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "data-events=" in page  # the run page follows it live again
    assert "designing for the niche you chose" in page
    # Still working: a second choice is refused with a message, not an error page.
    again = client.get(_choose(client, run_id, before.chosen_niche).headers["Location"])
    assert "The run is still working" in again.get_data(as_text=True)


def test_choose_niche_refuses_foreign_runs_bad_niches_and_missing_csrf(client, app, auth, run_id):
    assert _choose(client, run_id, 99).status_code == 404
    assert client.post(f"/runs/{run_id}/niches/{2**40}/choose").status_code == 404
    assert _choose(client, run_id, 1, token=False).status_code == 400
    with app.extensions["paissive"].database.session() as session:
        assert session.get(Run, run_id).status == RunStatus.SUCCEEDED
    auth.logout()
    auth.register("other@example.com")
    page = client.get("/").get_data(as_text=True)
    forged = client.post(f"/runs/{run_id}/niches/1/choose", data={"csrf_token": csrf_token(page)})
    assert forged.status_code == 404


def test_exports_download_the_plan_as_markdown_and_json(client, app, run_id):
    plan = plan_of(app, run_id)
    md = client.get(f"/runs/{run_id}/plan.md")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    assert md.headers["Content-Disposition"] == f'attachment; filename="run-{run_id}-plan.md"'
    assert "## Executive summary" in md.get_data(as_text=True)
    js = client.get(f"/runs/{run_id}/plan.json")
    assert js.mimetype == "application/json"
    assert js.headers["Content-Disposition"] == f'attachment; filename="run-{run_id}-plan.json"'
    assert Plan.model_validate(json.loads(js.get_data(as_text=True))) == plan
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert f'href="/runs/{run_id}/plan.md"' in page and f'href="/runs/{run_id}/plan.json"' in page


def test_hostile_model_text_is_escaped_in_the_page_and_the_markdown(client, project, scripted):
    scripted.model.overrides["Copy"] = lambda prompt: json.dumps(
        {
            "headline": HOSTILE,
            "subheadline": "# not a heading",
            "launch_email_subject": "Hi",
            "launch_email_body": "Body",
            "social_posts": ["- not a list", "one", "two"],
        }
    )
    run_id = run_to_end(client, project)
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    md = client.get(f"/runs/{run_id}/plan.md").get_data(as_text=True)
    assert "<script>" not in md and "\\<script\\>" in md
    assert "](http://" not in md and "\\*\\*bold\\*\\*" in md
    assert "\n# not a heading" not in md and "\n- not a list" not in md


def test_exports_of_foreign_runs_are_404(client, auth, run_id):
    auth.logout()
    auth.register("other@example.com")
    for suffix in ("plan.md", "plan.json"):
        assert client.get(f"/runs/{run_id}/{suffix}").status_code == 404
