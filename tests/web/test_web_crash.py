"""kill -9 of the web process under 20 concurrent API writers loses no acknowledged write."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from paissive_income.auth.service import create_token, register_user
from paissive_income.config import load_settings
from paissive_income.db import Database, migrate

pytestmark = pytest.mark.slow

WRITERS = 20
ACKNOWLEDGED_BEFORE_KILL = 150


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(instance, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(INSTANCE_PATH=str(instance), SECRET_KEY="k" * 40, LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [sys.executable, "-m", "paissive_income", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the server did not become ready")


def _post_project(base: str, token: str, name: str) -> int | None:
    """Return the new project's id when the server acknowledged the write, else None."""
    request = urllib.request.Request(
        base + "/api/v1/projects",
        data=json.dumps({"name": name, "market_segments": ["crash testers"]}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["id"] if response.status == 201 else None
    except (OSError, ValueError):
        return None  # refused, reset or cut off mid-answer: not acknowledged


def test_kill_9_during_concurrent_writes_keeps_every_acknowledged_write(tmp_path):
    instance = tmp_path / "instance"
    settings = load_settings({"INSTANCE_PATH": str(instance)})
    instance.mkdir()
    database = Database(settings.sqlalchemy_url)
    migrate.upgrade(database.engine)
    with database.session() as session:
        user = register_user(session, email="w@example.com", password="correct horse battery")
        _row, token = create_token(session, user=user, name="crash")
    database.dispose()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(instance, port)
    acknowledged: dict[int, str] = {}
    lock, stop = threading.Lock(), threading.Event()

    def writer(number: int) -> None:
        sequence = 0
        while not stop.is_set():
            sequence += 1
            name = f"writer {number} #{sequence}"
            project_id = _post_project(base, token, name)
            if project_id is not None:
                with lock:
                    acknowledged[project_id] = name

    try:
        _wait_ready(base, server)
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for number in range(WRITERS):
                pool.submit(writer, number)
            deadline = time.monotonic() + 60
            while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(server.pid, signal.SIGKILL)  # mid-flight: writers are still sending
            server.wait(timeout=10)
            stop.set()
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL

    db_file = instance / "paissive_income.db"
    with sqlite3.connect(db_file) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(connection.execute("SELECT id, name FROM projects").fetchall())
    lost = {pid: name for pid, name in acknowledged.items() if stored.get(pid) != name}
    assert lost == {}

    # And the instance starts again and serves what it stored.
    restarted = _serve(instance, port)
    try:
        _wait_ready(base, restarted)
        request = urllib.request.Request(
            base + "/api/v1/projects?limit=1", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["total"] == len(stored)
    finally:
        restarted.kill()
        restarted.wait(timeout=10)


def test_sigterm_stops_the_server(tmp_path):
    """``docker stop`` sends SIGTERM: the server must exit, not wait for the SIGKILL."""
    instance = tmp_path / "instance"
    port = _free_port()
    server = _serve(instance, port)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", server)
        server.terminate()
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
            pytest.fail("the server ignored SIGTERM")
