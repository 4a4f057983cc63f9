"""The web stack as production runs it, for tests: gunicorn with its conf, a worker, a model.

``paissive-income db upgrade`` prepares the database, ``gunicorn -c
python:paissive_income.web.gunicorn_conf`` serves the app and ``paissive-income worker`` works
the runs, both pointed at the scripted model over HTTP (``AI_MODELS_URL``). ``SseReader`` follows
one event stream in a thread, as a browser's EventSource would (without reconnecting).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1] / "agent_team"))  # the agent test helpers
from agent_support import make_owner  # noqa: E402

from paissive_income.auth import service as accounts  # noqa: E402
from paissive_income.config import Settings  # noqa: E402
from paissive_income.db import Database  # noqa: E402
from web_support import csrf_token  # noqa: E402

APP = "paissive_income.web:create_app()"
CONFIG = "python:paissive_income.web.gunicorn_conf"
EMAIL, PASSWORD = "owner@example.com", "correct horse battery"
BOOT_SECONDS = 60.0  # a loaded CI machine can take a while to import the app twice


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(tmp_path: Path, database_url: str, models_url: str, **extra: str) -> dict:
    """The process environment with every app and agent setting replaced by this test's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.removesuffix("_FILE").lower() not in Settings.model_fields
        and not key.startswith(("AGENT_", "AI_", "MODEL", "GUNICORN_", "WEB_CONCURRENCY"))
    }
    env.update(
        DATABASE_URL=database_url,
        INSTANCE_PATH=str(tmp_path / "instance"),  # also the worker's and the web's job queue
        SECRET_KEY="gunicorn-sse-secret-" + "x" * 32,
        LOG_LEVEL="WARNING",  # gunicorn's WORKER TIMEOUT is a critical line
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        AI_MODELS_URL=models_url,
        AI_CHAT_MODEL="scripted",
        WORKER_HEALTH_PORT="0",  # parallel tests' workers would all want 8001
        **extra,
    )
    return env


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("paissive-income")
    return [str(script)] if script.exists() else [sys.executable, "-m", "paissive_income"]


def prepare(env: dict) -> tuple[str, int]:
    """Upgrade the schema; create an admin with a project; return (API token, project id)."""
    subprocess.run([*_cli(), "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    database = Database(env["DATABASE_URL"])
    try:
        _, project_id = make_owner(database, EMAIL)
        with database.session() as session:
            user = accounts.create_admin(session, email=EMAIL, password=PASSWORD)  # can log in
            _, token = accounts.create_token(session, user=user, name="gunicorn tests")
        return token, project_id
    finally:
        database.dispose()


@dataclass
class Stack:
    """The processes of one test and how to reach the web service."""

    env: dict
    log: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    web: subprocess.Popen | None = None  # the gunicorn master
    base_url: str = ""

    def start_web(self, config: str = CONFIG) -> None:
        """Start gunicorn on a free port; return once it answers."""
        port = free_port()
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        with self.log.open("ab") as out:
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", config, APP],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers go with it in stop()
            )
        self.processes.append(web)
        self.web = web
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline:
            assert web.poll() is None, f"gunicorn exited:\n{self.log_text()}"
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer:\n{self.log_text()}")

    def start_worker(self) -> None:
        """Start ``paissive-income worker`` (the agent team's job consumer)."""
        with self.log.open("ab") as out:
            worker = subprocess.Popen(
                [*_cli(), "worker"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(worker)

    def stop(self) -> None:
        """Kill every process group started (streams still open would delay a graceful stop)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log_text(self) -> str:
        """Return everything gunicorn and the worker wrote."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def browser(self) -> httpx.Client:
        """Return a client logged in through the login form (cookies kept)."""
        client = httpx.Client(base_url=self.base_url, timeout=10)
        page = client.get("/login").text
        done = client.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_token(page)}
        )
        assert done.status_code == 302, done.text[:500]
        return client

    def api(self, token: str) -> httpx.Client:
        """Return a client of the JSON API with ``token``."""
        return httpx.Client(
            base_url=self.base_url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )


class SseReader:
    """Read one server-sent event stream in a thread; keep its frames and whether it ended."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.client, self.path = client, path
        self.headers: httpx.Headers | None = None
        self.frames: list[dict] = []
        self.opened = threading.Event()  # the first frame arrived
        self.ended = threading.Event()  # the server ended the stream (or it broke)
        self.error: BaseException | None = None
        self.on_frame = None  # called with each frame, in the reader's thread
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> SseReader:
        """Open the stream and read it in the background."""
        self._thread.start()
        return self

    def _read(self) -> None:
        timeout = httpx.Timeout(10, read=None)  # a quiet stream is not an error
        try:
            with self.client.stream(
                "GET", self.path, headers={"Accept-Encoding": "gzip"}, timeout=timeout
            ) as response:
                self.headers = response.headers
                block: list[str] = []
                for line in response.iter_lines():
                    if line:
                        block.append(line)
                        continue
                    if block:
                        self._add(parse_frame(block))
                        block = []
        except BaseException as exc:  # noqa: BLE001 - kept for the test to report
            self.error = exc
        finally:
            self.ended.set()

    def _add(self, frame: dict) -> None:
        self.frames.append(frame)
        self.opened.set()
        if self.on_frame:
            self.on_frame(frame)

    def events(self) -> list[dict]:
        """Return the data of the run's events received (frames with an id)."""
        return [json.loads(f["data"]) for f in self.frames if "id" in f]

    def join(self, timeout: float) -> None:
        """Wait for the reader to finish."""
        self._thread.join(timeout)


def parse_frame(lines: list[str]) -> dict:
    """Return one SSE frame as {"id", "event", "data", "retry", "comment"} as present."""
    frame: dict = {}
    for line in lines:
        name, _, value = line.partition(":")
        frame[name or "comment"] = value.removeprefix(" ")
    return frame


def worker_deaths(log: str) -> list[str]:
    """Return gunicorn's lines about workers it killed or that died."""
    pattern = re.compile(r"WORKER TIMEOUT|was sent SIG|exited with code")
    return [line for line in log.splitlines() if pattern.search(line)]
