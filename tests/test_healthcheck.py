"""``python -m paissive_income.healthcheck``: the image's HEALTHCHECK, as the container runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(5)
        status = {"/healthz": 200, "/custom": 200, "/redirect": 302}.get(self.path, 503)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """Serve /healthz (200), /custom (200), /redirect (302), /slow and 503 elsewhere."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _check(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTHCHECK_", "PORT"))}
    return subprocess.run(
        [sys.executable, "-m", "paissive_income.healthcheck"],
        env={**base, "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_healthy_on_port(port):
    result = _check(PORT=str(port))
    assert (result.returncode, result.stderr) == (0, "")


def test_url_overrides_port(port):
    assert _check(HEALTHCHECK_URL=f"http://127.0.0.1:{port}/custom", PORT="1").returncode == 0
    bad = _check(HEALTHCHECK_URL=f"http://127.0.0.1:{port}/other", PORT=str(port))
    assert bad.returncode == 1 and "HTTP 503" in bad.stderr


def test_only_200_is_healthy(port):
    assert _check(HEALTHCHECK_URL=f"http://127.0.0.1:{port}/redirect").returncode == 1


def test_nothing_listening_is_unhealthy():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    result = _check(PORT=str(free))
    assert result.returncode == 1 and "refused" in result.stderr


def test_a_hanging_service_times_out(port):
    began = time.monotonic()
    result = _check(HEALTHCHECK_URL=f"http://127.0.0.1:{port}/slow", HEALTHCHECK_TIMEOUT="0.5")
    assert result.returncode == 1 and "timed out" in result.stderr
    assert time.monotonic() - began < 4.5  # the server would answer after 5 s


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "5000$(id)"}, "PORT: must be a port number"),
        ({"PORT": "99999"}, "PORT: must be a port number"),
        ({"HEALTHCHECK_TIMEOUT": "soon"}, "HEALTHCHECK_TIMEOUT:"),
        ({"HEALTHCHECK_TIMEOUT": "0"}, "HEALTHCHECK_TIMEOUT:"),
        ({"HEALTHCHECK_URL": "file:///etc/passwd"}, "HEALTHCHECK_URL: not an http(s) URL"),
        ({"HEALTHCHECK_URL": "http://127.0.0.1:1/\n\u2028x"}, "'http://127.0.0.1:1/\\n\\u2028x'"),
    ],
)
def test_bad_settings_are_one_line(env, message):
    result = _check(**env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_imports_only_the_standard_library():
    probe = "import sys, paissive_income.healthcheck; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("flask", "sqlalchemy", "pydantic", "paissive_income.config", "httpx"):
        assert f"'{heavy}'" not in loaded
