"""Metrics and readiness under real gunicorn with several worker processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from paissive_income.config import Settings

pytest.importorskip("gunicorn")
pytestmark = pytest.mark.slow

WORKERS = 2
HEALTHZ_REQUESTS = 40
BOOT_TIMEOUT = 30.0
APP = "paissive_income.web:create_app()"
CONFIG = "python:paissive_income.web.gunicorn_conf"


@dataclass
class Gunicorn:
    """A running gunicorn master and where to reach it."""

    process: subprocess.Popen
    base_url: str
    metrics_dir: Path
    log: Path

    def get(self, path: str) -> tuple[int, str]:
        """Return the status and body of ``GET path``; error statuses are returned, not raised."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def worker_pids(self) -> set[int]:
        """Return the pids of live workers, from their in-flight gauge files."""
        files = self.metrics_dir.glob("gauge_livesum_*.db")
        return {int(f.stem.rpartition("_")[2]) for f in files}

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until true; fail with the server log after BOOT_TIMEOUT."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if condition():
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}:\n{self.log_tail()}")

    def log_tail(self) -> str:
        """Return the end of gunicorn's combined output."""
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(tmp_path: Path, port: int, workers: int) -> dict[str, str]:
    """The process environment with every app setting replaced by this test's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.removesuffix("_FILE").lower() not in Settings.model_fields
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'gunicorn.db'}",
        INSTANCE_PATH=str(tmp_path / "instance"),
        SECRET_KEY="gunicorn-test-secret-" + "x" * 32,
        LOG_LEVEL="WARNING",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
    )
    return env


def _cli() -> list[str]:
    """The ``paissive-income`` console script of this interpreter, or its entry point."""
    script = Path(sys.executable).with_name("paissive-income")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from paissive_income.cli import main; main()"]


def _stop(process: subprocess.Popen) -> None:
    """Stop gunicorn gracefully, and its whole process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture
def start_gunicorn(tmp_path) -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn on a free port with this test's settings; always stop it afterwards."""
    started: list[subprocess.Popen] = []

    def start(*, upgrade: bool, workers: int = WORKERS) -> Gunicorn:
        port = _free_port()
        env = _environment(tmp_path, port, workers)
        if upgrade:
            subprocess.run(
                [*_cli(), "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60
            )
        log = tmp_path / "gunicorn.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", CONFIG, APP],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        server = Gunicorn(process, f"http://127.0.0.1:{port}", tmp_path / "metrics", log)
        server.wait_for(lambda: len(server.worker_pids()) == workers, f"{workers} workers")
        # Any answer will do, and not from /healthz: the test counts those.
        server.wait_for(lambda: server.get("/readyz")[0] > 0, "the first answer")
        return server

    yield start
    for process in started:
        _stop(process)


def _scrape(server: Gunicorn) -> tuple[float, float]:
    """Return (GET /healthz 200 count, requests in flight) from one scrape of /metrics."""
    status, text = server.get("/metrics")
    assert status == 200
    healthz = in_flight = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "http_requests_total"
                and labels.get("endpoint") == "/healthz"
                and labels.get("status") == "200"
            ):
                healthz = (healthz or 0.0) + sample.value
            elif sample.name == "http_requests_in_flight":
                in_flight = sample.value
    assert healthz is not None and in_flight is not None, text
    return healthz, in_flight


def _assert_every_scrape_sees(server: Gunicorn, expected_healthz: float) -> None:
    # Each scrape may land on either worker; each must report the sum over all of them.
    for _ in range(3 * WORKERS):
        healthz, in_flight = _scrape(server)
        assert healthz == expected_healthz
        assert in_flight == 1  # only the scrape itself


def test_metrics_add_up_across_workers_and_survive_a_dead_worker(start_gunicorn):
    server = start_gunicorn(upgrade=True)
    # Concurrent requests keep one worker busy, so the other has to take some too.
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: server.get("/healthz")[0], range(HEALTHZ_REQUESTS)))
    assert statuses == [200] * HEALTHZ_REQUESTS
    _assert_every_scrape_sees(server, HEALTHZ_REQUESTS)

    status, body = server.get("/readyz")
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"

    victim = min(server.worker_pids())
    os.kill(victim, signal.SIGKILL)
    # child_exit -> mark_worker_dead removes the dead worker's gauge file; gunicorn replaces it.
    server.wait_for(lambda: victim not in server.worker_pids(), "the dead worker's gauges to go")
    server.wait_for(lambda: len(server.worker_pids()) == WORKERS, "a replacement worker")
    _assert_every_scrape_sees(server, HEALTHZ_REQUESTS)


def test_readyz_names_the_schema_when_the_database_was_not_upgraded(start_gunicorn):
    server = start_gunicorn(upgrade=False, workers=1)
    status, body = server.get("/readyz")
    assert status == 503
    report = json.loads(body)
    assert report["failing"] == ["schema"]
    assert report["checks"]["database"] == "ok"
    assert server.get("/healthz")[0] == 200  # alive, just not ready


def test_bad_setting_stops_gunicorn_with_one_line(tmp_path):
    env = _environment(tmp_path, _free_port(), workers=2) | {"LOG_LEVEL": "LOUD"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", CONFIG, APP],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("Error: LOG_LEVEL: must be")
    assert "Traceback" not in result.stderr + result.stdout
    assert "Booting worker" not in result.stderr
