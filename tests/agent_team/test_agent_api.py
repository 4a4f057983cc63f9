"""The runs JSON API end to end: the web app, huey jobs and a scripted model over real HTTP."""

from __future__ import annotations

import pytest
from scripted_model import ScriptedServer

from paissive_income.auth.service import create_token, register_user


@pytest.fixture(autouse=True)
def scripted(monkeypatch):
    """The scripted model server, set in the environment before the app reads its settings."""
    with ScriptedServer() as server:
        monkeypatch.setenv("AI_MODELS_URL", server.url)
        monkeypatch.setenv("AI_CHAT_MODEL", "scripted")
        yield server


@pytest.fixture
def api(scripted, app, client):
    """Return (headers, project id) of a user with a project; jobs run inside the request."""
    app.extensions["agent_team"].queue.huey.immediate = True
    with app.extensions["paissive"].database.session() as session:
        user = register_user(session, email="runner@example.com", password="correct horse battery")
        _token, secret = create_token(session, user=user, name="t")
    headers = {"Authorization": f"Bearer {secret}"}
    project = {"name": "Translators", "market_segments": ["freelance translators"]}
    created = client.post("/api/v1/projects", json=project, headers=headers)
    return headers, created.get_json()["id"]


def _start(client, headers, project_id, **body):
    response = client.post(f"/api/v1/projects/{project_id}/runs", json=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def test_run_to_plan_then_override_without_a_model_call(client, api, scripted):
    headers, project_id = api
    run_id = _start(client, headers, project_id)
    run = client.get(f"/api/v1/runs/{run_id}", headers=headers).get_json()
    assert run["status"] == "succeeded" and run["model"] == "scripted"
    assert run["prompt_tokens"] > 0 and set(run["stage_seconds"]) == {
        "research",
        "solution",
        "monetization",
        "marketing",
    }
    plan = client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).get_json()
    calls = scripted.model.calls()
    ltv = plan["monetization"]["unit_economics"]["ltv"]
    patched = client.patch(
        f"/api/v1/runs/{run_id}/assumptions",
        json={"overrides": {"funnel.monthly_churn": 0.2}},
        headers=headers,
    )
    assert patched.status_code == 200
    assert patched.get_json()["monetization"]["unit_economics"]["ltv"] < ltv
    assert scripted.model.calls() == calls
    events = client.get(f"/api/v1/runs/{run_id}/events", headers=headers).get_json()["items"]
    assert events[-1]["kind"] == "run_finished"
    later = client.get(f"/api/v1/runs/{run_id}/events?after={events[-2]['id']}", headers=headers)
    assert [e["id"] for e in later.get_json()["items"]] == [events[-1]["id"]]


def test_choose_another_niche_and_rerun(client, api, scripted):
    headers, project_id = api
    run_id = _start(client, headers, project_id)
    plan = client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).get_json()
    other = plan["niches"][-1]["index"]
    chosen = client.post(
        f"/api/v1/runs/{run_id}/niche", json={"niche_index": other}, headers=headers
    )
    assert chosen.status_code == 202
    plan = client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).get_json()
    assert plan["chosen_niche"] == other and plan["solution"]["niche_index"] == other
    rerun = client.post(
        f"/api/v1/runs/{run_id}/rerun", json={"stage": "marketing"}, headers=headers
    )
    assert rerun.status_code == 202
    assert scripted.model.calls("NicheIdeas") == 1  # research never ran again


def test_cancel_and_resume_follow_the_run_state(client, api, app):
    headers, project_id = api
    app.extensions["agent_team"].queue.huey.immediate = False  # leave it queued
    app.extensions["agent_team"].queue.huey.storage.flush_queue()
    run_id = _start(client, headers, project_id)
    assert client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).status_code == 409
    cancelled = client.post(f"/api/v1/runs/{run_id}/cancel", headers=headers)
    assert cancelled.get_json()["status"] == "cancelled"
    assert client.post(f"/api/v1/runs/{run_id}/cancel", headers=headers).status_code == 409
    app.extensions["agent_team"].queue.huey.immediate = True
    resumed = client.post(f"/api/v1/runs/{run_id}/resume", headers=headers)
    assert resumed.status_code == 202
    assert client.get(f"/api/v1/runs/{run_id}", headers=headers).get_json()["status"] == "succeeded"
    assert client.post(f"/api/v1/runs/{run_id}/resume", headers=headers).status_code == 409


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        ("/api/v1/projects/{project}/runs", "post", {"segments": ["not mine"]}, 422),
        ("/api/v1/projects/{project}/runs", "post", {"model": "bad model\n"}, 422),
        ("/api/v1/projects/{project}/runs", "post", {"surprise": 1}, 422),
        (
            "/api/v1/runs/{run}/assumptions",
            "patch",
            {"overrides": {"funnel.monthly_churn": 7}},
            422,
        ),
        ("/api/v1/runs/{run}/assumptions", "patch", {"overrides": {"no.such": 1}}, 422),
        ("/api/v1/runs/{run}/assumptions", "patch", {"overrides": {"A\x00": 1}}, 422),
        ("/api/v1/runs/{run}/assumptions", "patch", {"overrides": {"x": "1"}}, 422),
        ("/api/v1/runs/{run}/niche", "post", {"niche_index": 7}, 422),
        ("/api/v1/runs/{run}/rerun", "post", {"stage": "nope"}, 422),
        ("/api/v1/runs/{run}/events?after=-1", "get", None, 400),
        ("/api/v1/runs?limit=0", "get", None, 400),
        ("/api/v1/runs/{run}/events?after=%C2%B2", "get", None, 400),  # "²".isdigit()
        ("/api/v1/runs/{run}/events?after=" + "9" * 5000, "get", None, 400),
        ("/api/v1/runs?offset=1_0", "get", None, 400),
        ("/api/v1/runs?project_id=%D9%A3", "get", None, 400),  # Arabic-Indic three
        ("/api/v1/projects/{project}/runs", "post", {"niche_index": True}, 422),
        ("/api/v1/projects/{project}/runs", "post", {"niche_index": "1"}, 422),
        ("/api/v1/runs/{run}/niche", "post", {"niche_index": True}, 422),
        (
            "/api/v1/runs/{run}/assumptions",
            "patch",
            {"overrides": {"funnel.monthly_churn": True}},
            422,
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(client, api, path, method, body, status):
    headers, project_id = api
    run_id = _start(client, headers, project_id)
    before = client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).get_json()
    url = path.format(project=project_id, run=run_id)
    response = getattr(client, method)(url, json=body, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"]["message"]
    assert client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).get_json() == before


def test_another_users_runs_are_404(client, api, app):
    headers, project_id = api
    run_id = _start(client, headers, project_id)
    with app.extensions["paissive"].database.session() as session:
        other = register_user(session, email="other@example.com", password="correct horse battery")
        _token, secret = create_token(session, user=other, name="t")
    theirs = {"Authorization": f"Bearer {secret}"}
    for method, path in (
        ("get", f"/api/v1/runs/{run_id}"),
        ("get", f"/api/v1/runs/{run_id}/plan"),
        ("get", f"/api/v1/runs/{run_id}/events"),
        ("post", f"/api/v1/runs/{run_id}/cancel"),
        ("post", f"/api/v1/runs/{run_id}/resume"),
        ("post", f"/api/v1/projects/{project_id}/runs"),
    ):
        assert getattr(client, method)(path, headers=theirs, json={}).status_code == 404
    assert client.get("/api/v1/runs", headers=theirs).get_json() == {"items": [], "total": 0}
