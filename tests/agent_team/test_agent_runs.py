"""Runs on SQLite and PostgreSQL: owner scope, exactly-once claims, statuses, overrides, events."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from agent_support import executor_for, make_owner
from scripted_model import ScriptedModel
from sqlalchemy import func, select, update

from agent_team.runs import events, service
from agent_team.runs.claims import claim_run
from agent_team.runs.models import Run, RunArtifact, RunStatus
from paissive_income.cache import DiskCache
from paissive_income.db.base import utcnow


def _create(database, owner, **kw) -> int:
    user_id, project_id = owner
    with database.session() as session:
        return service.create_run(
            session, owner_id=user_id, project_id=project_id, model="scripted", **kw
        ).id


def _run(database, run_id) -> Run:
    with database.session() as session:
        return session.get(Run, run_id)


def test_a_run_works_to_a_plan_with_usage_timings_and_events(database, owner, model):
    run_id = _create(database, owner)
    assert executor_for(database, model).execute(run_id) == "succeeded"
    run = _run(database, run_id)
    assert (run.status, run.progress, run.error) == (RunStatus.SUCCEEDED, 1.0, None)
    assert run.prompt_tokens == 200 * model.calls() and run.completion_tokens == 100 * model.calls()
    assert set(run.stage_seconds) == {"research", "solution", "monetization", "marketing"}
    with database.session() as session:
        kinds = [e.kind for e in events.events_since(session, run_id=run_id)]
        plan = service.run_plan(session, owner_id=owner[0], run_id=run_id)
    assert kinds.count("stage_started") == 4 and kinds[-1] == "run_finished"
    assert plan.summary is not None
    assert plan.brief.segments == ("freelance translators", "translation agencies")


def test_another_users_runs_are_not_found(database, owner, model):
    run_id = _create(database, owner)
    stranger, _ = make_owner(database, "stranger@example.com")
    with database.session() as session:
        for call in (service.get_run, service.cancel_run, service.resume_run, service.run_plan):
            with pytest.raises(service.RunNotFound):
                call(session, owner_id=stranger, run_id=run_id)
        with pytest.raises(service.RunNotFound):
            service.create_run(session, owner_id=stranger, project_id=owner[1], model="m")
        assert service.list_runs(session, owner_id=stranger) == ([], 0)


def test_a_segment_outside_the_project_is_refused(database, owner):
    with database.session() as session, pytest.raises(service.RunInputError, match="not a segment"):
        service.create_run(
            session, owner_id=owner[0], project_id=owner[1], model="m", segments=["x"]
        )


def test_thirty_simultaneous_claims_take_a_run_once(database, owner):
    run_id = _create(database, owner)
    barrier = threading.Barrier(30)

    def claim(worker: int) -> bool:
        with database.session() as session:
            barrier.wait()
            return claim_run(session, run_id=run_id, worker=f"w{worker}", stale_seconds=60)

    with ThreadPoolExecutor(30) as pool:
        assert sum(pool.map(claim, range(30))) == 1


def test_duplicate_jobs_run_the_pipeline_once(database, owner, model):
    run_id = _create(database, owner)
    executors = [executor_for(database, model, worker=f"w{i}") for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda ex: ex.execute(run_id), executors))
    assert sorted(results) == ["skipped"] * 3 + ["succeeded"]
    assert model.calls("NicheIdeas") == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RunArtifact)) == 4


def test_a_silent_worker_is_taken_over_and_the_run_resumes_from_its_last_stage(database, owner):
    run_id = _create(database, owner)
    first = ScriptedModel(overrides={"Pricing": lambda prompt: "not json"})
    assert executor_for(database, first, AGENT_RETRY_BUDGET=0).execute(run_id) == "failed"
    with database.session() as session:  # as if a worker died mid-run: running, silent
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(status=RunStatus.RUNNING, heartbeat_at=utcnow() - timedelta(seconds=600))
        )
        session.commit()
        assert claim_run(session, run_id=run_id, worker="fresh", stale_seconds=3600) is False
    second = ScriptedModel()
    assert executor_for(database, second, worker="w2", AGENT_STALE_SECONDS=60).execute(run_id) == (
        "succeeded"
    )
    assert second.calls("NicheIdeas") == second.calls("ConceptProposal") == 0  # kept stages
    assert second.calls("Pricing") == 1


def test_cancel_a_queued_run_and_resume_it(database, owner, model):
    run_id = _create(database, owner)
    with database.session() as session:
        assert service.cancel_run(session, owner_id=owner[0], run_id=run_id).status == "cancelled"
    assert executor_for(database, model).execute(run_id) == "skipped"
    with database.session() as session:
        service.resume_run(session, owner_id=owner[0], run_id=run_id)
    assert executor_for(database, model).execute(run_id) == "succeeded"
    with database.session() as session, pytest.raises(service.RunStateError, match="finished"):
        service.cancel_run(session, owner_id=owner[0], run_id=run_id)


def test_cancel_a_running_run_stops_before_its_next_model_call(database, owner):
    run_id = _create(database, owner)
    user_id = owner[0]

    def cancel_then_answer(prompt: str) -> str:
        with database.session() as session:
            service.cancel_run(session, owner_id=user_id, run_id=run_id)
        import json

        from scripted_model import concept

        return json.dumps(concept(prompt))

    model = ScriptedModel(overrides={"ConceptProposal": cancel_then_answer})
    assert executor_for(database, model).execute(run_id) == "cancelled"
    run = _run(database, run_id)
    assert run.status == RunStatus.CANCELLED and model.calls("Pricing") == 0


def test_token_cap_ends_the_run_as_budget_exceeded(database, owner, model):
    run_id = _create(database, owner, token_cap=1500)  # 300 tokens a call: the 5th call spends it
    assert executor_for(database, model).execute(run_id) == "budget_exceeded"
    run = _run(database, run_id)
    assert "1500" in run.error and model.calls() == 5


def _unreachable_client():
    import openai

    return openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0)


def test_model_server_down_fails_the_run_with_a_clear_message(database, owner):
    run_id = _create(database, owner)
    executor = executor_for(database, ScriptedModel(), AGENT_MODEL_WAIT_SECONDS=0)
    executor.client_factory = _unreachable_client
    assert executor.execute(run_id) == "failed"
    assert "cannot be reached" in _run(database, run_id).error


def test_a_worker_waits_for_the_model_server_then_fails_naming_the_setting(database, owner):
    run_id = _create(database, owner)
    executor = executor_for(database, ScriptedModel(), AGENT_MODEL_WAIT_SECONDS=1.5)
    executor.client_factory = _unreachable_client
    assert executor.execute(run_id) == "failed"
    error = _run(database, run_id).error
    assert "cannot be reached" in error and "AGENT_MODEL_WAIT_SECONDS" in error
    with database.session() as session:
        steps = [e.detail.get("step") for e in events.events_since(session, run_id=run_id)]
    # Said once, although the run tried the server several times.
    assert sum("waiting for the model server" in (s or "") for s in steps) == 1


class _StartingServer:
    """A model server that answers 503 (loading) or refuses connections, then comes up."""

    def __init__(self, model: ScriptedModel, failures: list[str]) -> None:
        self.model, self.failures, self.tries = model, list(failures), 0

    def handler(self, request):
        import httpx

        self.tries += 1
        if self.failures:
            kind = self.failures.pop(0)
            if kind == "refused":
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(int(kind), json={"error": {"message": "model is loading"}})
        return self.model.handler(request)

    def client(self):
        import httpx
        import openai

        transport = httpx.MockTransport(self.handler)
        return openai.OpenAI(
            base_url="http://starting.test/v1",
            api_key="k",
            max_retries=0,
            http_client=httpx.Client(transport=transport),
        )


@pytest.mark.parametrize("failures", [["refused", "503"], ["503", "502", "429"]])
def test_a_run_started_before_its_model_server_is_up_waits_and_succeeds(database, owner, failures):
    run_id = _create(database, owner)
    server = _StartingServer(ScriptedModel(), failures)
    executor = executor_for(database, server.model, AGENT_MODEL_WAIT_SECONDS=60)
    executor.client_factory = server.client
    assert executor.execute(run_id) == "succeeded"
    assert server.tries == server.model.calls() + len(failures)


@pytest.mark.parametrize("status", ["500", "404", "400"])
def test_a_final_refusal_is_not_waited_for(database, owner, status):
    run_id = _create(database, owner)
    server = _StartingServer(ScriptedModel(), [status] * 50)
    executor = executor_for(database, server.model, AGENT_MODEL_WAIT_SECONDS=60)
    executor.client_factory = server.client
    assert executor.execute(run_id) == "failed" and server.tries == 1
    assert f"answered {status}" in _run(database, run_id).error


def test_cancelling_a_run_that_waits_for_the_model_server_ends_it(database, owner):
    run_id = _create(database, owner)
    executor = executor_for(database, ScriptedModel(), AGENT_MODEL_WAIT_SECONDS=600)
    executor.client_factory = _unreachable_client
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("s", executor.execute(run_id)))
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "waiting" not in (_run(database, run_id).step or ""):
        time.sleep(0.1)
    with database.session() as session:
        service.cancel_run(session, owner_id=owner[0], run_id=run_id)
    thread.join(timeout=30)
    assert result == {"s": "cancelled"}


def test_cached_rerun_makes_no_model_call(database, owner, tmp_path):
    cache = DiskCache(tmp_path / "cache")
    first, second = ScriptedModel(), ScriptedModel()
    executor_for(database, first, cache=cache).execute(_create(database, owner))
    assert executor_for(database, second, cache=cache).execute(_create(database, owner)) == (
        "succeeded"
    )
    assert first.calls() > 0 and second.calls() == 0
    cache.close()


def test_overrides_are_the_users_and_survive_a_rerun(database, owner, model):
    run_id = _create(database, owner)
    executor_for(database, model).execute(run_id)
    calls = model.calls()
    with database.session() as session:
        plan = service.set_overrides(
            session, owner_id=owner[0], run_id=run_id, overrides={"funnel.monthly_churn": 0.1}
        )
        assert model.calls() == calls  # recomputed, no model call
        churn = next(a for a in plan.assumptions if a.key == "funnel.monthly_churn")
        assert churn.source == "user"
        service.rerun_from(session, owner_id=owner[0], run_id=run_id, stage="monetization")
    executor_for(database, model).execute(run_id)
    with database.session() as session:
        plan = service.run_plan(session, owner_id=owner[0], run_id=run_id)
        churn = next(a for a in plan.assumptions if a.key == "funnel.monthly_churn")
        assert (churn.value, churn.source) == (0.1, "user")
        plan = service.set_overrides(
            session, owner_id=owner[0], run_id=run_id, overrides={"funnel.monthly_churn": None}
        )
        churn = next(a for a in plan.assumptions if a.key == "funnel.monthly_churn")
        assert churn.source == "model"  # reset to the model's value


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"funnel.monthly_churn": 2.0}, "funnel.monthly_churn"),
        ({"funnel.monthly_churn": True}, "funnel.monthly_churn"),
        ({"funnel.monthly_churn": float("inf")}, "funnel.monthly_churn"),
        ({"nope\x00": 1.0}, "nope\x00"),
    ],
)
def test_bad_overrides_are_refused_and_nothing_is_stored(database, owner, model, overrides, field):
    run_id = _create(database, owner)
    executor_for(database, model).execute(run_id)
    with database.session() as session:
        with pytest.raises(service.RunInputError) as caught:
            service.set_overrides(session, owner_id=owner[0], run_id=run_id, overrides=overrides)
        assert caught.value.field == field
        assert service.stored_overrides(session, run_id) == {}


def test_thirty_concurrent_overrides_of_one_key_leave_one_row(database, owner, model):
    run_id = _create(database, owner)
    executor_for(database, model).execute(run_id)
    barrier = threading.Barrier(30)

    def override(i: int) -> None:
        with database.session() as session:
            barrier.wait()
            service.set_overrides(
                session,
                owner_id=owner[0],
                run_id=run_id,
                overrides={"funnel.monthly_churn": 0.01 * (i + 1)},
            )

    with ThreadPoolExecutor(30) as pool:
        list(pool.map(override, range(30)))
    with database.session() as session:
        stored = service.stored_overrides(session, run_id)
    assert list(stored) == ["funnel.monthly_churn"]
    assert stored["funnel.monthly_churn"] in {round(0.01 * (i + 1), 2) for i in range(30)}


def test_choosing_another_niche_reruns_the_later_stages_for_it(database, owner, model):
    run_id = _create(database, owner)
    executor_for(database, model).execute(run_id)
    with database.session() as session:
        plan = service.run_plan(session, owner_id=owner[0], run_id=run_id)
        other = plan.niches[-1].index
        service.choose_niche(session, owner_id=owner[0], run_id=run_id, niche_index=other)
        with pytest.raises(service.RunInputError):
            service.choose_niche(session, owner_id=owner[0], run_id=run_id, niche_index=99)
    again = ScriptedModel()
    executor_for(database, again).execute(run_id)
    assert again.calls("NicheIdeas") == 0 and again.calls("ConceptProposal") == 1
    with database.session() as session:
        assert service.run_plan(session, owner_id=owner[0], run_id=run_id).chosen_niche == other


def test_a_niche_the_research_did_not_find_fails_the_run_naming_it(database, owner, model):
    run_id = _create(database, owner, niche_index=7)  # the scripted research finds 4
    assert executor_for(database, model).execute(run_id) == "failed"
    run = _run(database, run_id)
    assert run.error.startswith("niche_index: niche 7 was asked for") and "(0-3)" in run.error
    assert model.calls("ConceptProposal") == 0  # nothing designed for a niche not asked for
    with database.session() as session:
        service.choose_niche(session, owner_id=owner[0], run_id=run_id, niche_index=2)
    assert executor_for(database, model).execute(run_id) == "succeeded"
    assert model.calls("NicheIdeas") == 1  # the research was kept


@pytest.mark.parametrize("name", ["", "a b", "m" * 201, "bad\x00", "\udcff"])
def test_a_bad_model_name_is_refused_before_any_row_is_written(database, owner, name):
    with database.session() as session, pytest.raises(service.RunInputError) as error:
        service.create_run(session, owner_id=owner[0], project_id=owner[1], model=name)
    assert error.value.field == "model"
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_a_locked_database_fails_the_run_clearly_and_resume_finishes_it(tmp_path):
    import json
    import sqlite3
    import time

    from scripted_model import pricing

    from paissive_income.db import Database, migrate

    path = tmp_path / "locked.db"
    database = Database(f"sqlite:///{path}")
    migrate.upgrade(database.engine)
    owner = make_owner(database)
    run_id = _create(database, owner)

    def hold_the_lock() -> None:  # another process writing for longer than the busy timeout
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        time.sleep(6.5)
        other.execute("ROLLBACK")
        other.close()

    def pricing_while_locked(prompt: str) -> str:
        threading.Thread(target=hold_the_lock, daemon=True).start()
        time.sleep(0.3)
        return json.dumps(pricing(prompt))

    model = ScriptedModel(overrides={"Pricing": pricing_while_locked})
    assert executor_for(database, model).execute(run_id) == "failed"
    run = _run(database, run_id)
    assert run.error.startswith("the database could not be written (database is locked)")
    with database.session() as session:
        stages = set(service.stored_artifacts(session, run_id))
        assert stages == {"research", "solution"}  # nothing half-written, finished stages kept
        service.resume_run(session, owner_id=owner[0], run_id=run_id)
    again = ScriptedModel()
    assert executor_for(database, again).execute(run_id) == "succeeded"
    assert again.calls("NicheIdeas") == 0 and again.calls("Pricing") == 1
    database.dispose()


def test_jobs_travel_through_redis_when_it_is_configured(
    database, owner, model, redis_url, tmp_path
):
    import time

    from huey import RedisHuey

    from agent_team.runs.tasks import JobQueue, create_huey

    huey = create_huey(redis_url=redis_url, instance_path=tmp_path)
    assert isinstance(huey, RedisHuey)
    huey.flush()
    queue = JobQueue(
        huey, database=database, executor_factory=lambda: executor_for(database, model)
    )
    run_id = _create(database, owner)
    queue.enqueue(run_id)
    queue.enqueue(run_id)  # a duplicate job: the second finds the run taken
    assert huey.pending_count() == 2
    consumer = queue.consume(workers=2, block=False)
    try:
        deadline = time.monotonic() + 60
        while _run(database, run_id).status != RunStatus.SUCCEEDED:
            assert time.monotonic() < deadline, "the run never finished"
            time.sleep(0.1)
    finally:
        queue.stop(consumer)
    assert model.calls("NicheIdeas") == 1 and huey.pending_count() == 0
