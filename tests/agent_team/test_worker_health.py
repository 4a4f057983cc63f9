"""The worker's /healthz, /readyz and /metrics: in-process against hostile clients, then for real.

The slow test runs ``paissive-income worker --health-port`` on the scripted model over HTTP and
stops it with SIGTERM in the middle of a run: the stage in flight finishes, the run goes back on
the queue for another worker (which resumes it with no stage run twice), and the exit status is 0
within seconds, well inside the 60 s a deploy gives it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import httpx
import pytest
from agent_support import executor_for, make_owner
from click.testing import CliRunner
from scripted_model import ScriptedModel, ScriptedServer
from sqlalchemy import func, select

from agent_team.runs import events, service
from agent_team.runs.health_server import ConsumerState, HealthServer, WorkerCollector
from agent_team.runs.models import Run, RunArtifact, RunStatus
from agent_team.runs.tasks import JobQueue, create_huey
from paissive_income.cli import main
from paissive_income.db import Database, migrate


def _fail() -> None:
    raise RuntimeError("queue down\nsecond line")


def _consumer(alive: bool = True) -> SimpleNamespace:
    thread = threading.Thread(target=time.sleep, args=(30 if alive else 0,), daemon=True)
    thread.start()
    thread.join(0 if alive else 5)
    return SimpleNamespace(worker_threads=[(None, thread)], stop_flag=threading.Event())


@pytest.fixture
def health():
    """A health server on a free port whose queue check and size can be switched."""
    state = ConsumerState()
    switches = {"queue": lambda: None}
    server = HealthServer(
        host="127.0.0.1",
        port=0,
        checks={"queue": lambda: switches["queue"](), "consumer": state.check},
        collectors=[WorkerCollector(state)],
    ).start()
    server.state, server.switches = state, switches
    server.url = f"http://127.0.0.1:{server.port}"
    yield server
    server.stop()


def test_healthz_answers_while_readyz_waits_for_the_consumer(health):
    assert httpx.get(health.url + "/healthz").json() == {"status": "ok"}
    waiting = httpx.get(health.url + "/readyz")
    assert waiting.status_code == 503
    assert waiting.json()["checks"]["consumer"] == "failed: not started yet"
    health.state.started(_consumer())
    ready = httpx.get(health.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_readyz_names_each_failure_in_one_line(health):
    health.state.started(_consumer(alive=False))
    health.switches["queue"] = _fail
    body = httpx.get(health.url + "/readyz").json()
    assert body["failing"] == ["queue", "consumer"]
    assert body["checks"] == {
        "queue": "failed: queue down",
        "consumer": "failed: a job thread has died",
    }
    health.state.consumer.stop_flag.set()
    assert httpx.get(health.url + "/readyz").json()["checks"]["consumer"] == "failed: stopping"


def test_metrics_are_the_process_registry_plus_the_worker(health):
    health.state.started(_consumer())
    text = httpx.get(health.url + "/metrics").text
    assert "paissive_agent_worker_threads_alive 1.0" in text
    assert "python_info{" in text  # prometheus_client's default process collectors


def test_hostile_requests_do_not_stop_the_server(health):
    assert httpx.get(health.url + "/../etc/passwd?x=$(id)").status_code == 404
    assert httpx.post(health.url + "/healthz").status_code == 501
    responses = []
    for request in (
        b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
        b"GET /" + b"\xff\x00" * 40_000 + b" HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01 \xfc\x03\x03 \x00\xff\r\n\r\n",  # binary garbage, one line
    ):
        with socket.create_connection(("127.0.0.1", health.port), timeout=5) as raw:
            raw.sendall(request)
            responses.append(raw.recv(4096))
    assert [response.split(b"\r\n")[0] for response in responses[:3]] == [
        b"HTTP/1.0 431 Line too long",
        b"HTTP/1.0 431 Too many headers",
        b"HTTP/1.0 414 Request-URI Too Long",
    ]
    assert b"Error code: 400" in responses[3]  # http.server answers it as HTTP/0.9
    # A client that connects and sends nothing holds its own thread only.
    with socket.create_connection(("127.0.0.1", health.port)):
        assert httpx.get(health.url + "/healthz", timeout=2).status_code == 200


def test_an_endpoint_that_raises_answers_500_and_the_server_lives(health, monkeypatch):
    monkeypatch.setattr(health.collectors[0], "collect", lambda: 1 / 0)
    assert httpx.get(health.url + "/metrics").status_code == 500
    assert httpx.get(health.url + "/healthz").status_code == 200


def test_a_silent_redis_fails_the_queue_check_instead_of_hanging(tmp_path, monkeypatch):
    from agent_team.runs import tasks

    monkeypatch.setattr(tasks, "REDIS_SOCKET_TIMEOUT", 0.5)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        huey = create_huey(
            redis_url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0", instance_path=tmp_path
        )
        state = ConsumerState()
        server = HealthServer(
            host="127.0.0.1",
            port=0,
            checks={"queue": huey.storage.queue_size},
            collectors=[WorkerCollector(state)],
        ).start()
        try:
            began = time.monotonic()
            answer = httpx.get(f"http://127.0.0.1:{server.port}/readyz", timeout=15)
            assert time.monotonic() - began < 4  # redis-py alone gives up after 5 s at best
        finally:
            server.stop()
    assert answer.status_code == 503 and answer.json()["failing"] == ["queue"]
    assert "timeout" in answer.json()["checks"]["queue"].lower()


def test_a_worker_starts_while_redis_is_silent(tmp_path, monkeypatch, database_url):
    from agent_team.runs import tasks

    monkeypatch.setattr(tasks, "REDIS_SOCKET_TIMEOUT", 0.3)
    database = Database(database_url)
    migrate.upgrade(database.engine)
    owner, project = make_owner(database)
    with database.session() as session:  # queued and idle past stale_seconds: the sweep requeues
        service.create_run(session, owner_id=owner, project_id=project, model="scripted")
    time.sleep(0.05)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        huey = create_huey(redis_url=url, instance_path=tmp_path)
        queue = JobQueue(huey, database=database, stale_seconds=0.01)
        consumer = queue.consume(workers=1, block=False)  # the sweep's enqueue times out: logged
        queue.stop(consumer)
    database.dispose()


def _worker_env(tmp_path, database_url: str, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "AI_", "WORKER"))}
    keep.pop("REDIS_URL", None)
    return {
        **keep,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def test_bad_health_port_is_one_line(tmp_path):
    env = _worker_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", WORKER_HEALTH_PORT="80a")
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code == 2
    assert result.stderr == "Error: WORKER_HEALTH_PORT: must be a port number 0-65535 (got '80a')\n"


def test_a_taken_health_port_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _worker_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
        result = CliRunner().invoke(main, ["worker", "--health-port", str(port)], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: --health-port {port}: cannot listen (")
    assert result.stderr.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(predicate, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_sigterm_mid_run_ends_the_stage_requeues_the_run_and_exits_0(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'worker.db'}"
    database = Database(database_url)
    migrate.upgrade(database.engine)
    owner, project = make_owner(database)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with ScriptedServer(delay=0.3) as model:
        env = _worker_env(tmp_path, database_url, AI_MODELS_URL=model.url, AI_CHAT_MODEL="scripted")
        worker = subprocess.Popen(
            [sys.executable, "-m", "paissive_income", "worker", "--health-port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait(lambda: worker.poll() is None and _ready(url), "the worker's /readyz")
            assert set(httpx.get(url + "/readyz").json()["checks"]) == {
                "database",
                "queue",
                "consumer",
            }
            metrics = httpx.get(url + "/metrics").text
            assert "paissive_agent_worker_threads_alive 2.0" in metrics
            assert 'paissive_readiness_check_ok{check="consumer"} 1.0' in metrics
            with database.session() as session:
                run_id = service.create_run(
                    session, owner_id=owner, project_id=project, model="scripted"
                ).id
            huey = create_huey(redis_url=None, instance_path=tmp_path / "instance")
            JobQueue(huey, database=database).enqueue(run_id)
            _wait(lambda: _stages(database, run_id) >= 1, "the first stage")
            worker.send_signal(signal.SIGTERM)
            began = time.monotonic()
            _, stderr = worker.communicate(timeout=60)
            stopped_in = time.monotonic() - began
        finally:
            worker.kill()
    assert worker.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stopped_in < 20, f"SIGTERM to exit took {stopped_in:.1f} s"
    with database.session() as session:
        run = session.get(Run, run_id)
        assert (run.status, run.worker) == (RunStatus.QUEUED, None)
        kinds = [e.kind for e in events.events_since(session, run_id=run_id)]
    assert kinds[-1] == "released" and kinds.count("stage_started") == _stages(database, run_id) < 4
    assert huey.pending_count() == 1  # its job is back on the queue
    rest = ScriptedModel()  # another worker resumes it from the stage after the finished ones
    assert executor_for(database, rest, worker="w2").execute(run_id) == "succeeded"
    with database.session() as session:
        kinds = [e.kind for e in events.events_since(session, run_id=run_id)]
    assert kinds.count("stage_started") == 4 and rest.calls("NicheIdeas") == 0  # none twice
    database.dispose()


def _stages(database: Database, run_id: int) -> int:
    with database.session() as session:
        return session.scalar(
            select(func.count()).select_from(RunArtifact).where(RunArtifact.run_id == run_id)
        )
