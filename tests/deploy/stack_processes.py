"""What ``docker-compose.yml`` starts, started as local processes with the same commands and env.

Only what differs between a container and a process is translated: the hostnames ``postgres``,
``redis`` and ``ai-models`` become 127.0.0.1 and their local ports, ``/run/secrets/<name>``
becomes a file written here, the container's folders (``INSTANCE_PATH``, ``HOME``, …) become
temporary ones, listen ports become free ports, the database becomes a fresh PostgreSQL database
and Redis a database number of its own. A value naming any other container path, or a container
hostname left over, is refused, so a new setting in the Compose file cannot slip through unseen.

The ``ai-models`` service is the one exception to "same command": its process is the scripted
model (``scripted_model_process.py``), because a random-weight model cannot write plans and a
real one is far too slow for a test; it gets the Compose service's env all the same.

Shared by ``test_deploy_stack_processes.py`` and ``benchmarks/stack.py``.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

SCRIPTED_MODEL = Path(__file__).with_name("scripted_model_process.py")
SECRETS_DIR = "/run/secrets"
# Container folders -> the name of the temporary folder each process gets instead.
PATH_VARIABLES = {"INSTANCE_PATH", "HOME", "HF_HOME", "PROMETHEUS_MULTIPROC_DIR", "TMPDIR"}
LISTEN_PORTS = {"PORT", "WORKER_HEALTH_PORT"}
# What a process needs from this machine that a container has in its image.
HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "PYTHONPATH", "SYSTEMROOT")


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def executable(command: list[str]) -> list[str]:
    """Resolve the image's console script to this interpreter's (the project's own)."""
    script = Path(sys.executable).parent / command[0]
    return [str(script), *command[1:]] if script.exists() else command


@dataclass
class Process:
    """One started service process: its log, the port its health answers on, its timings."""

    name: str
    kind: str
    popen: subprocess.Popen
    log: Path
    port: int | None
    env: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    ready_seconds: float | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_size(self) -> int:
        """Return how many bytes the log holds now (a mark for ``logged_since``)."""
        return self.log.stat().st_size if self.log.exists() else 0

    def logged_since(self, mark: int) -> str:
        """Return what the process logged after ``mark``."""
        with self.log.open("rb") as file:
            file.seek(mark)
            return file.read().decode(errors="replace")


class LocalStack:
    """Starts services of the Compose file as processes against local PostgreSQL and Redis."""

    def __init__(
        self,
        services: dict[str, dict],
        *,
        workdir: Path,
        database_url: str,
        redis_url: str,
        extra_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.services, self.workdir = services, workdir
        self.database_url, self.redis_url = database_url, redis_url
        self.extra_env = extra_env or {}
        self.processes: list[Process] = []
        self.secrets_dir = workdir / "secrets"
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        self.api_key = secrets.token_urlsafe(24)
        self._write_secrets()
        self.hosts: dict[str, str] = {}  # compose hostname -> 127.0.0.1:<port>
        parts = urlsplit(redis_url)
        self.hosts["redis"] = parts.netloc
        self.hosts["postgres"] = urlsplit(database_url).netloc.rsplit("@", 1)[-1]
        # Reserved now: every app service's env names the model server before it starts.
        self.model_port = free_port()
        self.hosts["ai-models"] = f"127.0.0.1:{self.model_port}"

    def _write_secrets(self) -> None:
        values = {
            "secret_key": secrets.token_urlsafe(48),
            "database_url": self.database_url,
            "ai_model_api_key": self.api_key,
            "postgres_password": secrets.token_urlsafe(24),
        }
        for name, value in values.items():
            path = self.secrets_dir / name
            path.write_text(value)
            path.chmod(0o600)

    def env_for(self, service: str, name: str) -> tuple[dict[str, str], int | None]:
        """Return the process env of one instance of ``service`` and its listen port."""
        env = {k: os.environ[k] for k in HOST_VARIABLES if k in os.environ}
        compose_env = self.services[service]["environment"]
        port = None
        for key in LISTEN_PORTS & set(compose_env):
            port = self.model_port if service == "ai-models" else free_port()
            # Its own probe URL (HEALTHCHECK_URL) names the container port on 127.0.0.1.
            loopback = re.compile(rf"//(127\.0\.0\.1|localhost):{compose_env[key]}\b")
        for key, value in compose_env.items():
            if key in LISTEN_PORTS:
                value = str(port)
            elif key in PATH_VARIABLES:
                value = str(self.workdir / name / key.lower())
                Path(value).mkdir(parents=True, exist_ok=True)
            elif key == "HOST":
                value = "127.0.0.1"
            else:
                if port is not None:
                    value = loopback.sub(f"//127.0.0.1:{port}", value)
                value = self._localize(key, value)
            env[key] = value
        env.update(self.extra_env.get(service, {}))
        return env, port

    def _localize(self, key: str, value: str) -> str:
        if value.startswith(SECRETS_DIR + "/"):
            secret = self.secrets_dir / value.removeprefix(SECRETS_DIR + "/")
            if not secret.exists():
                raise ValueError(f"{key}: no such secret {value}")
            return str(secret)
        if value.startswith("redis://redis:"):
            return self.redis_url  # its own database number, not the container's
        for host, local in self.hosts.items():
            value = re.sub(rf"(?<=//){re.escape(host)}:\d+", local, value)
        if value.startswith("/") or re.search(r"//(postgres|redis|ai-models)[:/]", value):
            raise ValueError(f"{key}={value!r}: a container path or host the test cannot map")
        return value

    def start(self, service: str, *, name: str | None = None) -> Process:
        """Start one instance of ``service`` with its Compose command and translated env."""
        name = name or f"{service}-{sum(p.kind == service for p in self.processes) + 1}"
        env, port = self.env_for(service, name)
        if service == "ai-models":
            command = [sys.executable, str(SCRIPTED_MODEL)]  # see the module docstring
        else:
            command = executable(self.services[service]["command"])
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command,
                env=env,
                cwd=self.workdir / name if (self.workdir / name).is_dir() else self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: cleanup kills gunicorn's too
            )
        process = Process(name, service, popen, log, port, env)
        self.processes.append(process)
        return process

    def run_once(self, service: str, timeout: float = 120) -> Process:
        """Run a one-shot service (the migration) to its end; fail unless it exits 0."""
        process = self.start(service)
        try:
            process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{process.name} still running after {timeout} s") from None
        process.ready_seconds = time.monotonic() - process.started
        assert process.popen.returncode == 0, f"{process.name} exited {process.popen.returncode}"
        return process

    def healthcheck(self, process: Process) -> subprocess.CompletedProcess:
        """Run the Compose service's own ``healthcheck`` command in the process's env."""
        test = self.services[process.kind]["healthcheck"]["test"]
        assert test[0] == "CMD", test  # the exec form: no shell in the image's probe
        return subprocess.run(
            executable(test[1:]), env=process.env, capture_output=True, text=True, timeout=30
        )

    def wait_ready(self, processes: list[Process], path: str = "/readyz", timeout: float = 90):
        """Wait until every process answers 200 on ``path``; record how long each took."""
        deadline = time.monotonic() + timeout
        pending = [p for p in processes if p.ready_seconds is None]
        with httpx.Client(timeout=2) as client:
            while pending:
                for process in list(pending):
                    assert process.alive(), f"{process.name} exited {process.popen.returncode}"
                    try:
                        ok = client.get(process.url(path)).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        process.ready_seconds = time.monotonic() - process.started
                        pending.remove(process)
                assert time.monotonic() < deadline, f"not ready: {[p.name for p in pending]}"
                time.sleep(0.1)

    def statuses(self, path: str = "/readyz") -> dict[str, int]:
        """Return the status code of ``path`` on every running process with a port."""
        found = {}
        with httpx.Client(timeout=5) as client:
            for process in self.processes:
                if process.port and process.alive():
                    try:
                        found[process.name] = client.get(process.url(path)).status_code
                    except httpx.HTTPError as exc:
                        found[process.name] = f"{type(exc).__name__}"
        return found

    def logs(self, lines: int = 40) -> str:
        """Return the tail of every process's log, for a failure report."""
        return "\n".join(
            f"----- {p.name} (exit {p.popen.poll()}) -----\n{p.tail(lines)}" for p in self.processes
        )

    @contextmanager
    def failure_report(self) -> Iterator[None]:
        """Print every process's log tail when the block fails (pytest shows it)."""
        try:
            yield
        except BaseException:
            print(self.logs())
            raise

    def stop(self) -> None:
        """Kill every process group this stack started (also after a failed test)."""
        for process in self.processes:
            if process.popen.poll() is None:
                try:
                    os.killpg(process.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def local_redis_url(base: str, db: int) -> str:
    """Return ``base`` (a Redis URL) pointing at database ``db``."""
    return urlunsplit(urlsplit(base)._replace(path=f"/{db}"))


def create_database(admin_url: str) -> tuple[str, str]:
    """Create a fresh PostgreSQL database; return (its name, its URL)."""
    import psycopg

    name = f"stack_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(plain)._replace(path=f"/{name}", query=""))
    return name, url.replace("postgresql://", "postgresql+psycopg://", 1)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database made by ``create_database`` (closing what still holds it)."""
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
