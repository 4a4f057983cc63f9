"""The run pages: a project with its runs, starting, cancelling and resuming a run, owner-only."""

from __future__ import annotations

import pytest
from plan_support import project, scripted
from run_pages import start

from agent_team.runs.models import Run
from web_support import AuthActions, csrf_token

__all__ = ["project", "scripted"]  # fixtures, shared with the plan page tests


def run_count(app) -> int:
    with app.extensions["paissive"].database.session() as session:
        return session.query(Run).count()


def test_new_project_lands_on_its_page_and_the_dashboard_links_there(client, project):
    page = client.get(f"/projects/{project}").get_data(as_text=True)
    assert "translation agencies" in page and "I want 60k a year." in page
    assert "Run analysis" in page and "No runs yet" in page
    assert f'href="/projects/{project}"' in client.get("/").get_data(as_text=True)


def test_run_analysis_goes_to_the_run_page_with_verdict_and_ranking(client, project, app):
    response = start(client, project, segments=["translation agencies"])
    assert response.status_code == 302
    run_page = client.get(response.headers["Location"])
    html = run_page.get_data(as_text=True)
    assert run_page.status_code == 200
    assert "Verdict:" in html and "Niche ranking" in html and "Legal translation QA" in html
    assert html.count('data-state="done"') == 4
    assert "data-events=" not in html  # a finished run opens no stream
    assert "Resume run" not in html and "Cancel run" not in html
    with app.extensions["paissive"].database.session() as session:
        run = session.query(Run).one()
        assert run.segments == ["translation agencies"] and run.model == "scripted"
    listing = client.get(f"/projects/{project}").get_data(as_text=True)
    assert f'href="/runs/{run.id}"' in listing and "succeeded" in listing
    assert f"{run.prompt_tokens + run.completion_tokens:,}" in listing


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "bad model"}, "model name must be"),
        ({"model": "m\x00"}, "control characters"),
        ({"model": "x" * 201}, "200"),
        ({"segments": ["not a segment of it"]}, "Not a segment of this project"),
        ({"segments": []}, "Choose at least one segment"),
    ],
)
def test_bad_run_input_shows_the_form_error_and_starts_nothing(
    client, project, app, fields, message
):
    response = start(client, project, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert run_count(app) == 0


def test_run_form_without_csrf_token_is_refused(client, project, app):
    response = client.post(f"/projects/{project}", data={"segments": ["translation agencies"]})
    assert response.status_code == 400
    assert run_count(app) == 0


def test_cancel_then_resume_a_queued_run(client, project, app):
    huey = app.extensions["agent_team"].queue.huey
    huey.immediate = False  # leave the run queued
    run_url = start(client, project).headers["Location"]
    page = client.get(run_url).get_data(as_text=True)
    assert "Cancel run" in page and "data-events=" in page and "Resume run" not in page
    assert client.post(f"{run_url}/cancel").status_code == 400  # no CSRF token
    cancelled = client.post(f"{run_url}/cancel", data={"csrf_token": csrf_token(page)})
    assert cancelled.status_code == 302
    page = client.get(run_url).get_data(as_text=True)
    assert "cancelled" in page and "Resume run" in page and "Cancel run" not in page
    again = client.post(f"{run_url}/cancel", data={"csrf_token": csrf_token(page)})
    assert "already finished" in client.get(again.headers["Location"]).get_data(as_text=True)
    huey.storage.flush_queue()
    huey.immediate = True
    client.post(f"{run_url}/resume", data={"csrf_token": csrf_token(page)})
    assert "Verdict:" in client.get(run_url).get_data(as_text=True)


def test_a_failed_run_shows_its_error_and_offers_resume(client, project, scripted):
    scripted.model.overrides["Funnel"] = lambda prompt: '{"monthly_visitors": "lots"}'
    run_url = start(client, project).headers["Location"]
    page = client.get(run_url).get_data(as_text=True)
    assert "The run stopped:" in page and "monthly_visitors" in page
    assert 'data-stage="monetization" data-state="failed"' in page
    assert page.count('data-state="done"') == 2 and "Resume run" in page
    del scripted.model.overrides["Funnel"]
    client.post(f"{run_url}/resume", data={"csrf_token": csrf_token(page)})
    page = client.get(run_url).get_data(as_text=True)
    assert "Verdict:" in page and "The run stopped" not in page


def test_another_users_project_and_runs_are_404(app, client, project):
    run_url = start(client, project).headers["Location"]
    other = app.test_client()
    AuthActions(other).register("bob@example.com")
    token = csrf_token(other.get("/account").get_data(as_text=True))
    for path in (f"/projects/{project}", run_url, f"{run_url}/events"):
        assert other.get(path).status_code == 404, path
    for path in (f"/projects/{project}", f"{run_url}/cancel", f"{run_url}/resume"):
        assert other.post(path, data={"csrf_token": token}).status_code == 404, path
    assert run_count(app) == 1
    for path in ("/projects/99999", "/runs/99999", "/runs/99999999999999999999"):
        assert client.get(path).status_code == 404


def test_pages_need_login(client, project, auth):
    auth.logout()
    for path in (f"/projects/{project}", "/runs/1", "/runs/1/events"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
