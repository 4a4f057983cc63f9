"""Shared run state under concurrent requests and workers (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from agent_support import executor_for
from scripted_model import ScriptedModel
from sqlalchemy import select, update
from test_agent_api import _start, api, scripted  # noqa: F401 - fixtures of the API tests

from agent_team.runs import service
from agent_team.runs.models import Run, RunArtifact, RunStatus
from agent_team.runs.tasks import JobQueue, create_huey
from paissive_income.db.base import utcnow


def test_thirty_parallel_steering_requests_queue_a_run_once(app, client, api):  # noqa: F811
    headers, project_id = api
    run_id = _start(client, headers, project_id)  # worked inside the request: succeeded
    queue = app.extensions["agent_team"].queue
    queue.huey.immediate = False  # from here jobs wait in the queue, so they can be counted
    queue.huey.storage.flush_queue()
    requests = [("rerun", {"stage": "marketing"})] * 10 + [("rerun", {"stage": "solution"})] * 10
    requests += [("niche", {"niche_index": 1})] * 10
    barrier = threading.Barrier(len(requests))

    def send(request) -> int:
        path, body = request
        own = app.test_client()
        barrier.wait()
        response = own.post(f"/api/v1/runs/{run_id}/{path}", json=body, headers=headers)
        assert response.get_json()["error" if response.status_code >= 400 else "id"]
        return response.status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        statuses = Counter(pool.map(send, requests))
    # The first one queues the run; every other one finds it queued: one job, no lost update.
    assert statuses == {202: 1, 409: len(requests) - 1}
    assert queue.huey.pending_count() == 1
    run = client.get(f"/api/v1/runs/{run_id}", headers=headers).get_json()
    assert run["status"] == "queued" and run["error"] is None


def test_thirty_parallel_cancels_and_resumes_end_consistent(app, client, api):  # noqa: F811
    headers, project_id = api
    queue = app.extensions["agent_team"].queue
    queue.huey.immediate = False
    queue.huey.storage.flush_queue()
    run_id = _start(client, headers, project_id)  # queued, no worker
    paths = ["cancel", "resume"] * 15
    barrier = threading.Barrier(len(paths))

    def send(path: str) -> tuple[str, int]:
        own = app.test_client()
        barrier.wait()
        return path, own.post(f"/api/v1/runs/{run_id}/{path}", headers=headers).status_code

    with ThreadPoolExecutor(len(paths)) as pool:
        results = Counter(pool.map(send, paths))
    run = client.get(f"/api/v1/runs/{run_id}", headers=headers).get_json()
    # Each 2xx is a real transition queued ⇄ cancelled, so they alternate and add up exactly.
    cancels, resumes = results[("cancel", 200)], results[("resume", 202)]
    assert cancels >= 1 and cancels - resumes == (1 if run["status"] == "cancelled" else 0)
    assert run["status"] in ("queued", "cancelled")
    assert queue.huey.pending_count() == 1 + resumes  # the start's job and one per resume


def _create(database, owner) -> int:
    with database.session() as session:
        run = service.create_run(session, owner_id=owner[0], project_id=owner[1], model="scripted")
        return run.id


def _status(database, run_id) -> RunStatus:
    with database.session() as session:
        return session.scalar(select(Run.status).where(Run.id == run_id))


def test_a_resume_that_read_the_old_status_cannot_requeue_a_running_run(database, owner):
    run_id = _create(database, owner)
    failing = ScriptedModel(overrides={"Pricing": lambda prompt: "not json"})
    assert executor_for(database, failing, AGENT_RETRY_BUDGET=0).execute(run_id) == "failed"
    with database.session() as stale, database.session() as other:
        seen = service.get_run(stale, owner_id=owner[0], run_id=run_id)  # reads "failed"
        service.resume_run(other, owner_id=owner[0], run_id=run_id)
        other.execute(update(Run).where(Run.id == run_id).values(status=RunStatus.RUNNING))
        other.commit()  # a worker claimed it meanwhile
        assert seen.status == RunStatus.FAILED
        try:
            service.resume_run(stale, owner_id=owner[0], run_id=run_id)
        except service.RunStateError:
            pass
    assert _status(database, run_id) == RunStatus.RUNNING


def test_a_cancelled_run_whose_worker_died_ends_cancelled(database, owner, tmp_path):
    run_id = _create(database, owner)
    with database.session() as session:  # a worker took it, was asked to stop, then died
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                status=RunStatus.RUNNING,
                cancel_requested=True,
                heartbeat_at=utcnow() - timedelta(seconds=600),
            )
        )
        session.commit()
    queue = JobQueue(
        create_huey(redis_url=None, instance_path=tmp_path), database=database, stale_seconds=60
    )
    assert queue.sweep() == []  # nothing to requeue: a claim would refuse it for ever
    assert _status(database, run_id) == RunStatus.CANCELLED


def test_a_client_that_cannot_be_made_fails_the_run_instead_of_leaving_it_running(database, owner):
    run_id = _create(database, owner)

    class Unloadable(ScriptedModel):
        def client(self):
            from paissive_income.config import ConfigError

            raise ConfigError("AI_CHAT_MODEL: no such model 'nope' (offline)")

    assert executor_for(database, Unloadable()).execute(run_id) == "failed"
    with database.session() as session:
        run = session.get(Run, run_id)
        assert run.status == RunStatus.FAILED and "AI_CHAT_MODEL" in run.error
        assert not session.scalars(select(RunArtifact).where(RunArtifact.run_id == run_id)).all()


def test_a_worker_that_lost_its_run_does_not_overwrite_the_new_owners_outcome(database, owner):
    run_id = _create(database, owner)

    class TakenOver(ScriptedModel):
        def handler(self, request):
            with database.session() as session:  # another worker took the run over meanwhile
                session.execute(update(Run).where(Run.id == run_id).values(worker="w2"))
                session.commit()
            return super().handler(request)

    model = TakenOver()
    executor_for(database, model, worker="w1").execute(run_id)
    assert model.calls() == 1  # it stops at its next model call instead of working on
    with database.session() as session:
        run = session.get(Run, run_id)
        assert (run.status, run.worker, run.finished_at) == (RunStatus.RUNNING, "w2", None)


def test_thirty_parallel_overrides_of_different_keys_are_all_kept(app, client, api):  # noqa: F811
    headers, project_id = api
    run_id = _start(client, headers, project_id)
    plan = client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).get_json()
    chosen = [a for a in plan["assumptions"] if not a["choices"]][:30]
    assert len(chosen) == 30
    values = {a["key"]: (a["minimum"] + a["maximum"]) / 2 for a in chosen}
    barrier = threading.Barrier(len(values))

    def send(key: str) -> int:
        own = app.test_client()
        barrier.wait()
        body = {"overrides": {key: values[key]}}
        return own.patch(
            f"/api/v1/runs/{run_id}/assumptions", json=body, headers=headers
        ).status_code

    with ThreadPoolExecutor(len(values)) as pool:
        assert set(pool.map(send, values)) == {200}
    plan = client.get(f"/api/v1/runs/{run_id}/plan", headers=headers).get_json()
    users = {a["key"]: a["value"] for a in plan["assumptions"] if a["source"] == "user"}
    assert users == pytest.approx(values)


def test_a_queue_that_is_down_leaves_the_run_queued_for_the_sweep(database, owner, tmp_path):
    from agent_team.config import AgentSettings
    from agent_team.team import AgentTeam

    class DownQueue(JobQueue):
        def enqueue(self, run_id: int) -> None:
            raise ConnectionError("redis is down")

    huey = create_huey(redis_url=None, instance_path=tmp_path)
    team = AgentTeam(settings=AgentSettings(), queue=DownQueue(huey, database=database))
    with database.session() as session:
        run = team.start_run(session, owner_id=owner[0], project_id=owner[1], model="scripted")
    assert _status(database, run.id) == RunStatus.QUEUED  # durable: a sweep enqueues it later
