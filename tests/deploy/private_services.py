"""Private PostgreSQL and Redis servers that a test may stop and start again.

The shared services on 127.0.0.1:5432 and :6379 serve every other test, so the failure tests
never touch them: they start a throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl`` in a
temporary folder, as the ``postgres`` user when run as root, since ``initdb`` refuses root) and
a ``redis-server`` without persistence, each on a free port, and stop or restart them mid-test.
Where the server programs are not installed (``postgresql``, ``redis-server`` packages), the
tests skip and say so: the shared services that CI requires are other processes.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _missing(reason: str) -> None:
    """Skip when a server program is missing (CI images without them skip, saying why)."""
    pytest.skip(reason)


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _postgres_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own on 127.0.0.1:<free port> (trust auth)."""

    def __init__(self) -> None:
        bindir = _postgres_bin()
        if bindir is None or not (bindir / "initdb").exists():
            _missing("PostgreSQL's initdb and pg_ctl are not installed")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="paissive-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
            if shutil.which("runuser") is None:
                _missing("running as root without runuser: cannot start PostgreSQL")
            shutil.chown(self.root, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args) -> None:
        command = [*self._as_user, str(self.bindir / tool), *map(str, args)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -F "
            "-c shared_buffers=16MB -c max_connections=40"
        )
        log = self.root / "server.log"
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l", log, "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect everyone; ``immediate``: as a crash)."""
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-D", self.data, "-m", mode)
        _wait(lambda: not _listening(self.port), 10, "PostgreSQL to stop listening")

    def close(self) -> None:
        """Stop the server if running and delete the cluster."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except AssertionError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A ``redis-server`` of this test's own, no persistence: a restart forgets every job."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            _missing("redis-server is not installed")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the URL of its database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        _wait(lambda: _listening(self.port), 20, "redis-server to listen")

    def stop(self) -> None:
        """Kill the server (its data goes with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        _wait(lambda: not _listening(self.port), 10, "redis-server to stop listening")

    close = stop
