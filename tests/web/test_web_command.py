"""``paissive-income web``: gunicorn from Python with gunicorn_conf's settings, the embedded worker.

The slow test runs the command as the image does with no configuration (SQLite and its job
queue in the instance folder): the master migrates, and a run started through the JSON API is
worked by the consumer inside a gunicorn worker process, on the scripted model over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner
from gunicorn_stack import environment, free_port, make_owner
from scripted_model import ScriptedServer  # importable once gunicorn_stack is

from agent_team.runs.models import Run
from paissive_income.auth import service as accounts
from paissive_income.auth.models import User
from paissive_income.cli import main
from paissive_income.db import Database
from paissive_income.web import gunicorn_conf
from paissive_income.web.cli import embedded_worker_choice, env_flag
from paissive_income.web.gunicorn_app import WebApplication

BOOT_SECONDS = 90.0  # the master migrates, then two workers import the app on a busy machine


def test_the_application_takes_every_setting_of_gunicorn_conf():
    cfg = WebApplication(embedded_worker=False).cfg
    assert cfg.worker_class_str == "gthread"
    assert (cfg.bind, cfg.workers, cfg.threads) == (
        [gunicorn_conf.bind],
        gunicorn_conf.workers,
        gunicorn_conf.threads,
    )
    assert (cfg.timeout, cfg.graceful_timeout) == (gunicorn_conf.timeout, 30)
    assert cfg.control_socket_disable is True
    assert cfg.on_starting is gunicorn_conf.on_starting
    assert cfg.post_worker_init is gunicorn_conf.post_worker_init


def test_the_embedded_worker_adds_its_hooks_on_top_of_the_conf():
    cfg = WebApplication(embedded_worker=True).cfg
    assert cfg.post_worker_init is not gunicorn_conf.post_worker_init
    assert cfg.worker_exit.__module__ == "paissive_income.web.gunicorn_app"
    assert cfg.on_starting is gunicorn_conf.on_starting  # the conf's other hooks stay


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), ("auto", None), (" AUTO ", None), ("true", True), ("1", True), ("off", False)],
)
def test_embedded_worker_choice(monkeypatch, value, expected):
    monkeypatch.setenv("AGENT_EMBEDDED_WORKER", value)
    assert embedded_worker_choice() is expected


def test_env_flag_defaults_and_words(monkeypatch):
    monkeypatch.delenv("MIGRATE_ON_START", raising=False)
    assert env_flag("MIGRATE_ON_START", default=True) is True
    monkeypatch.setenv("MIGRATE_ON_START", "No")
    assert env_flag("MIGRATE_ON_START", default=True) is False


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AGENT_EMBEDDED_WORKER": "maybe\n$(id)"}, "AGENT_EMBEDDED_WORKER: must be auto"),
        ({"MIGRATE_ON_START": "perhaps"}, "MIGRATE_ON_START: must be true or false"),
        ({"PORT": "0"}, "PORT:"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL:"),
    ],
)
def test_bad_config_is_one_line_naming_the_variable(tmp_path, env, named):
    env = {"INSTANCE_PATH": str(tmp_path / "instance"), "REDIS_URL": None, **env}
    result = CliRunner().invoke(main, ["web"], env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {named}") and result.stderr.count("\n") == 1


def test_bad_config_in_a_real_process_has_no_traceback(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "paissive_income", "web"],
        env={**base, "INSTANCE_PATH": str(tmp_path / "instance"), "MIGRATE_ON_START": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "Error: MIGRATE_ON_START: must be true or false (got 'x')\n",
    )


def _wait_ready(process: subprocess.Popen, url: str, log) -> None:
    deadline = time.monotonic() + BOOT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no ready answer from {url}:\n{log.read_text()}")


@pytest.mark.slow
def test_the_image_default_migrates_and_works_a_run_in_a_gunicorn_worker(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'instance' / 'paissive_income.db'}"
    port, log = free_port(), tmp_path / "web.log"
    with ScriptedServer() as model:
        env = environment(tmp_path, database_url, model.url, PORT=str(port))
        for name in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"):  # the image's defaults
            env.pop(name)
        with log.open("wb") as out:
            web = subprocess.Popen(
                [sys.executable, "-m", "paissive_income", "web"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        try:
            # Ready means the schema is at head: the master migrated before forking.
            _wait_ready(web, f"http://127.0.0.1:{port}/readyz", log)
            token, project_id = _owner_with_token(database_url)
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            started = api.post(f"/api/v1/projects/{project_id}/runs", json={})
            assert started.status_code == 202, started.text
            run = _wait_finished(api, started.json()["id"])
            assert run["status"] == "succeeded", run
            assert model.model.calls("NicheIdeas") == 1  # worked once, by one of the consumers
            worker_pid = int(_run_worker(database_url, run["id"]).split(":")[1])
            assert worker_pid != web.pid  # in a gunicorn worker, never in the master
        finally:
            web.send_signal(signal.SIGTERM)
            code = web.wait(timeout=60)
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def _owner_with_token(database_url: str) -> tuple[str, int]:
    database = Database(database_url)
    try:
        user_id, project_id = make_owner(database)
        with database.session() as session:
            user = session.get(User, user_id)
            _, token = accounts.create_token(session, user=user, name="web command test")
        return token, project_id
    finally:
        database.dispose()


def _wait_finished(api: httpx.Client, run_id: int) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} still {run['status']}")


def _run_worker(database_url: str, run_id: int) -> str:
    database = Database(database_url)
    try:
        with database.session() as session:
            return session.get(Run, run_id).worker
    finally:
        database.dispose()
