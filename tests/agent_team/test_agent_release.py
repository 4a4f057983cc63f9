"""A stopping worker hands its runs back: the stage in flight finishes, the run is queued again.

On SIGTERM (the CLI worker) or a gunicorn worker's exit (the embedded consumer) the consumer's
``stop`` sets the queue's ``stopping``; each run ends its current stage, goes back to ``queued``
with no worker and a new job, and another worker resumes it from there, so no stage runs twice.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

from agent_support import executor_for
from scripted_model import ScriptedModel, concept

from agent_team.runs import events, service
from agent_team.runs.models import Run, RunStatus
from agent_team.runs.tasks import JobQueue, create_huey


def _create(database, owner) -> int:
    with database.session() as session:
        return service.create_run(
            session, owner_id=owner[0], project_id=owner[1], model="scripted"
        ).id


def _run(database, run_id) -> Run:
    with database.session() as session:
        return session.get(Run, run_id)


def _kinds(database, run_id) -> list[tuple[str, str | None]]:
    with database.session() as session:
        return [(e.kind, e.stage) for e in events.events_since(session, run_id=run_id)]


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _held_concept(entered: threading.Event, go: threading.Event):
    """A ConceptProposal reply that waits for ``go``: the solution stage is in flight meanwhile."""

    def reply(prompt: str) -> str:
        entered.set()
        assert go.wait(30), "the test never let the model answer"
        return json.dumps(concept(prompt))

    return reply


def test_stopping_mid_stage_finishes_it_requeues_the_run_and_another_worker_resumes(
    database, owner, tmp_path
):
    entered, go = threading.Event(), threading.Event()
    first = ScriptedModel(overrides={"ConceptProposal": _held_concept(entered, go)})
    huey = create_huey(redis_url=None, instance_path=tmp_path)
    queue = JobQueue(
        huey, database=database, executor_factory=lambda: executor_for(database, first)
    )
    run_id = _create(database, owner)
    queue.enqueue(run_id)
    consumer = queue.consume(workers=1, block=False)
    _wait(entered.is_set, "the solution stage")
    # JobQueue.stop is what gunicorn's worker_exit calls (and huey's SIGTERM path calls the
    # consumer's stop): it waits for the job, which must end after this stage, not the run.
    stopper = threading.Thread(target=queue.stop, args=(consumer,))
    stopper.start()
    _wait(queue.stopping.is_set, "the consumer to stop")
    go.set()
    stopper.join(timeout=30)
    assert not stopper.is_alive(), "the consumer did not stop after the stage"

    run = _run(database, run_id)
    assert (run.status, run.worker, run.heartbeat_at) == (RunStatus.QUEUED, None, None)
    assert run.step.startswith("waiting for a worker") and run.prompt_tokens == 200 * first.calls()
    with database.session() as session:
        assert set(service.stored_artifacts(session, run_id)) == {"research", "solution"}
    assert first.calls("BuildProposal") == 1 and first.calls("Pricing") == 0
    assert _kinds(database, run_id)[-1] == ("released", "solution")
    assert huey.pending_count() == 1  # its job is back on the queue for another consumer

    second = ScriptedModel()
    other = JobQueue(
        create_huey(redis_url=None, instance_path=tmp_path),
        database=database,
        executor_factory=lambda: executor_for(database, second, worker="w2"),
    )
    consumer = other.consume(workers=1, block=False)
    try:
        _wait(lambda: _run(database, run_id).status == RunStatus.SUCCEEDED, "the resumed run")
    finally:
        other.stop(consumer)
    started = Counter(stage for kind, stage in _kinds(database, run_id) if kind == "stage_started")
    assert set(started.values()) == {1} and len(started) == 4  # no stage ran twice
    assert second.calls("NicheIdeas") == second.calls("ConceptProposal") == 0
    assert second.calls("Pricing") == 1 and _run(database, run_id).attempts == 2


def test_a_run_cancelled_while_its_worker_stops_ends_cancelled(database, owner):
    run_id = _create(database, owner)
    executor = None

    def stop_and_cancel(prompt: str) -> str:
        executor.stopping.set()
        with database.session() as session:
            service.cancel_run(session, owner_id=owner[0], run_id=run_id)
        return json.dumps(concept(prompt))

    model = ScriptedModel(overrides={"ConceptProposal": stop_and_cancel})
    executor = executor_for(database, model)
    assert executor.execute(run_id) == "cancelled"
    assert _run(database, run_id).status == RunStatus.CANCELLED
    assert "released" not in [kind for kind, _stage in _kinds(database, run_id)]
    assert model.calls("Pricing") == 0


def test_a_stopping_worker_claims_no_new_run(database, owner, model):
    run_id = _create(database, owner)
    executor = executor_for(database, model)
    executor.stopping.set()
    assert executor.execute(run_id) == "released"  # the job goes back; the run was never taken
    run = _run(database, run_id)
    assert (run.status, run.attempts, model.calls()) == (RunStatus.QUEUED, 0, 0)


def _unreachable_client():
    import openai

    return openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0)


def test_a_run_waiting_for_the_model_server_is_handed_back_at_once(database, owner, model):
    run_id = _create(database, owner)
    executor = executor_for(database, model, AGENT_MODEL_WAIT_SECONDS=600)
    executor.client_factory = _unreachable_client
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("s", executor.execute(run_id)))
    thread.start()
    _wait(lambda: "waiting for the model" in (_run(database, run_id).step or ""), "the wait")
    began = time.monotonic()
    executor.stopping.set()
    thread.join(timeout=10)
    assert result == {"s": "released"} and time.monotonic() - began < 5
    run = _run(database, run_id)
    assert (run.status, run.worker) == (RunStatus.QUEUED, None)
