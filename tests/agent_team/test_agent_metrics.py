"""Agent-team metrics: runs by status, stage durations, queue, tokens and cost, as scraped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from agent_support import executor_for, make_owner
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scripted_model import ScriptedModel

from agent_team.llm import CallUsage
from agent_team.plan import STAGE_ORDER
from agent_team.runs import service
from agent_team.runs.metrics import (
    EVENTS,
    MAX_MODEL_LABELS,
    AgentMetrics,
    RunsCollector,
    worker_collectors,
)
from agent_team.runs.models import Run
from paissive_income.db import Database

PRICES = json.dumps({"scripted": [1.0, 2.0]})  # $ per million tokens in, out


def scrape(*collectors) -> dict[tuple[str, tuple], float]:
    """Render ``collectors`` as /metrics does and parse it: {(sample, labels): value}."""
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return parse(generate_latest(registry).decode())


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """Parse an exposition with prometheus_client's parser: {(sample, sorted labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in found, f"{key} exposed twice"
            found[key] = sample.value
    return found


def _create(database, owner, **kw) -> int:
    user_id, project_id = owner
    with database.session() as session:
        return service.create_run(
            session, owner_id=user_id, project_id=project_id, model="scripted", **kw
        ).id


def _executor(database, model, metrics, **settings):
    executor = executor_for(database, model, MODEL_PRICES=PRICES, **settings)
    executor.metrics = metrics
    return executor


def test_a_finished_run_is_counted_with_its_stages_tokens_and_cost(database, owner, model):
    metrics = AgentMetrics()
    run_id = _create(database, owner)
    assert _executor(database, model, metrics).execute(run_id) == "succeeded"
    with database.session() as session:
        run = session.get(Run, run_id)
        prompt, completion, cost = run.prompt_tokens, run.completion_tokens, run.cost_usd
    got = scrape(*worker_collectors(database, lambda: 3, {"database": database.check_connection}))
    got = {**got, **scrape(metrics.registry)}  # the run's own counters (not the process's)

    finished = "paissive_agent_runs_finished_total"
    assert got[(finished, (("status", "succeeded"),))] == 1
    assert got[(finished, (("status", "failed"),))] == 0  # present before the first failure
    for stage in STAGE_ORDER:
        assert got[("paissive_agent_stage_duration_seconds_count", (("stage", stage),))] == 1
    assert got[("paissive_agent_stage_duration_seconds_sum", (("stage", "research"),))] > 0
    tokens = "paissive_agent_model_tokens_total"
    assert got[(tokens, (("direction", "prompt"), ("model", "scripted")))] == prompt > 0
    assert got[(tokens, (("direction", "completion"), ("model", "scripted")))] == completion
    calls = got[("paissive_agent_model_calls_total", (("model", "scripted"), ("source", "server")))]
    assert calls == model.calls()
    cost_usd = got[("paissive_agent_model_cost_usd_total", (("model", "scripted"),))]
    assert cost_usd == pytest.approx(cost) and cost == pytest.approx(
        (prompt * 1.0 + completion * 2.0) / 1e6
    )
    assert got[("paissive_agent_runs", (("status", "succeeded"),))] == 1
    assert got[("paissive_agent_runs", (("status", "queued"),))] == 0
    assert got[("paissive_agent_queue_jobs", ())] == 3
    assert got[("paissive_readiness_check_ok", (("check", "database"),))] == 1
    assert ("paissive_agent_oldest_queued_run_timestamp_seconds", ()) not in got


def test_failed_and_over_budget_runs_are_counted_by_status(database, owner):
    metrics = AgentMetrics()
    broken = ScriptedModel(overrides={"Pricing": lambda prompt: "not json"})
    failed = _create(database, owner)
    assert _executor(database, broken, metrics, AGENT_RETRY_BUDGET=0).execute(failed) == "failed"
    capped = _create(database, owner, token_cap=1500)
    assert _executor(database, ScriptedModel(), metrics).execute(capped) == "budget_exceeded"
    # A run claimed elsewhere is skipped, not counted.
    assert _executor(database, ScriptedModel(), metrics).execute(capped) == "skipped"
    got = scrape(metrics.registry)
    finished = "paissive_agent_runs_finished_total"
    assert got[(finished, (("status", "failed"),))] == 1
    assert got[(finished, (("status", "budget_exceeded"),))] == 1
    assert got[(finished, (("status", "succeeded"),))] == 0
    # The over-budget call's tokens were spent: counted like the others (5 calls of 300).
    tokens = "paissive_agent_model_tokens_total"
    capped_tokens = sum(
        value for (name, labels), value in got.items() if name == tokens
    ) - _run_tokens(database, failed)
    assert capped_tokens == _run_tokens(database, capped) >= 1500


def _run_tokens(database, run_id) -> int:
    with database.session() as session:
        run = session.get(Run, run_id)
        return run.prompt_tokens + run.completion_tokens


def test_queued_runs_and_the_oldest_are_read_at_most_once_per_ttl(database, owner):
    now = [0.0]
    collector = RunsCollector(database, ttl=15, clock=lambda: now[0])
    first = _create(database, owner)
    _create(database, owner)
    got = scrape(collector)
    assert got[("paissive_agent_runs", (("status", "queued"),))] == 2
    with database.session() as session:
        queued_at = session.get(Run, first).updated_at.timestamp()
    oldest = got[("paissive_agent_oldest_queued_run_timestamp_seconds", ())]
    assert oldest == pytest.approx(queued_at)
    assert ("paissive_agent_queue_jobs", ()) not in got  # no queue given

    _create(database, owner)
    now[0] = 14.9  # within the ttl: the cached answer, no query
    assert scrape(collector)[("paissive_agent_runs", (("status", "queued"),))] == 2
    now[0] = 15.0
    assert scrape(collector)[("paissive_agent_runs", (("status", "queued"),))] == 3


def test_a_database_or_queue_that_is_down_leaves_its_samples_out(tmp_path, caplog):
    gone = Database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")

    def queue_down() -> int:
        raise ConnectionError("redis is gone")

    try:
        got = scrape(
            RunsCollector(gone, queue_size=lambda: 4),
            RunsCollector(Database(f"sqlite:///{tmp_path / 'empty.db'}"), queue_size=queue_down),
            *worker_collectors(gone, queue_down, {"database": gone.check_connection})[2:],
        )
    finally:
        gone.dispose()
    assert {name for name, _ in got} == {"paissive_agent_queue_jobs", "paissive_readiness_check_ok"}
    assert got[("paissive_agent_queue_jobs", ())] == 4
    assert got[("paissive_readiness_check_ok", (("check", "database"),))] == 0
    assert "reading runs for /metrics failed" in caplog.text


def test_model_labels_stay_bounded_when_users_name_many_models():
    metrics = AgentMetrics()
    for index in range(MAX_MODEL_LABELS + 10):
        metrics.model_call(CallUsage(model=f"model-{index}\n{{evil}}", prompt_tokens=1))
    metrics.model_call(CallUsage(model="model-0\n{evil}", cached=True))
    got = scrape(metrics.registry)
    models = {dict(labels)["model"] for (name, labels) in got if name.endswith("_calls_total")}
    assert len(models) == MAX_MODEL_LABELS + 1 and "other" in models
    assert "model-0\n{evil}" in models  # escaped in the exposition, parsed back unchanged
    assert (
        got[("paissive_agent_model_calls_total", (("model", "other"), ("source", "server")))] == 10
    )
    cached = (("model", "model-0\n{evil}"), ("source", "cache"))
    assert got[("paissive_agent_model_calls_total", cached)] == 1


def test_the_web_exposes_runs_readiness_and_the_embedded_workers_counts(app, client):
    database = app.extensions["paissive"].database
    owner = make_owner(database)
    before = parse(client.get("/metrics").text)
    run_id = _create(database, owner)
    succeeded = ("paissive_agent_runs_finished_total", (("status", "succeeded"),))
    assert before[("paissive_agent_runs", (("status", "queued"),))] == 0
    assert before[("paissive_readiness_check_ok", (("check", "schema"),))] == 1
    assert before[("paissive_agent_queue_jobs", ())] >= 0
    executor = executor_for(database, ScriptedModel())  # the process's EVENTS, as embedded
    assert executor.metrics is EVENTS
    assert executor.execute(run_id) == "succeeded"
    after = parse(client.get("/metrics").text)
    assert after[succeeded] == before[succeeded] + 1
    assert (
        "http_requests_total",
        (("endpoint", "/metrics"), ("method", "GET"), ("status", "200")),
    ) in after


MULTIPROCESS_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {agent_tests!r}]
    from agent_support import executor_for, make_owner
    from scripted_model import ScriptedModel
    from agent_team.runs import service
    from paissive_income.config import load_settings
    from paissive_income.db import migrate
    from paissive_income.web import create_app

    settings = load_settings({{}}, instance_path={instance!r}, secret_key="k" * 40,
                             log_level="WARNING")
    app = create_app(settings)
    database = app.extensions["paissive"].database
    migrate.upgrade(database.engine)
    user_id, project_id = make_owner(database)
    with database.session() as session:
        run_id = service.create_run(session, owner_id=user_id, project_id=project_id,
                                    model="scripted").id
    assert executor_for(database, ScriptedModel()).execute(run_id) == "succeeded"
    sys.stdout.write(app.test_client().get("/metrics").text)
    """
)


@pytest.mark.slow
def test_under_gunicorns_multiprocess_mode_each_sample_is_exposed_once(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    tests = Path(__file__).parents[1]
    script = MULTIPROCESS_SCRIPT.format(
        tests=str(tests), agent_tests=str(tests / "agent_team"), instance=str(tmp_path / "i")
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    env.pop("DATABASE_URL", None), env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = parse(done.stdout)  # a sample exposed twice fails here
    assert got[("paissive_agent_runs_finished_total", (("status", "succeeded"),))] == 1
    assert got[("paissive_agent_runs", (("status", "succeeded"),))] == 1
    assert got[("paissive_readiness_check_ok", (("check", "database"),))] == 1
    assert any(name == "paissive_agent_stage_duration_seconds_bucket" for name, _ in got)
    assert list(folder.iterdir())  # the counters went through the shared folder
