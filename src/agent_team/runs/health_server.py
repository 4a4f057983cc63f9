"""The worker's own HTTP endpoints: ``/healthz``, ``/readyz`` and ``/metrics``.

``paissive-income worker`` serves no web app, yet Kubernetes probes it and Prometheus scrapes
it, so it runs the standard library's ``ThreadingHTTPServer`` in a daemon thread: one thread
per connection (a slow or hostile client holds only its own, for at most ``REQUEST_TIMEOUT``
seconds), request lines and headers bounded by ``http.server`` itself (414 and 431), and no
part of huey's signal handling touched, so SIGTERM still lets the running jobs finish.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from paissive_income.observability.health import Check, run_checks

logger = logging.getLogger(__name__)
REQUEST_TIMEOUT = 10.0  # seconds a connection may take to send its request


class ConsumerState:
    """What the health endpoints know of the huey consumer: set once it is created."""

    def __init__(self) -> None:
        self.consumer = None

    def started(self, consumer) -> None:
        """Remember the consumer (``JobQueue.consume``'s ``on_start``)."""
        self.consumer = consumer

    def threads_alive(self) -> int:
        """Return how many of the consumer's job threads are running."""
        if self.consumer is None:
            return 0
        return sum(1 for _, thread in self.consumer.worker_threads if thread.is_alive())

    def check(self) -> None:
        """Raise unless the consumer runs every job thread and is not stopping."""
        if self.consumer is None:
            raise RuntimeError("not started yet")
        if self.consumer.stop_flag.is_set():
            raise RuntimeError("stopping")
        if self.threads_alive() < len(self.consumer.worker_threads):
            raise RuntimeError("a job thread has died")


class WorkerCollector(Collector):
    """The consumer's job threads alive, read at scrape time."""

    def __init__(self, state: ConsumerState) -> None:
        self.state = state

    def collect(self):
        threads = GaugeMetricFamily(
            "paissive_agent_worker_threads_alive", "Job threads of this worker that are running."
        )
        threads.add_metric([], self.state.threads_alive())
        yield threads


class HealthServer:
    """Serve ``/healthz``, ``/readyz`` (``checks``) and ``/metrics`` in a daemon thread.

    ``/metrics`` is the process's default registry, to which ``collectors`` are added while the
    server runs (and removed when it stops, so a second server in one process can add them).
    """

    def __init__(
        self, *, host: str, port: int, checks: dict[str, Check], collectors: list[Collector]
    ) -> None:
        self.checks, self.collectors = checks, collectors
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self.httpd.daemon_threads = True  # a connection never holds the process open
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="worker-health",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """Return the port listened on (the one picked when 0 was asked for)."""
        return self.httpd.server_address[1]

    def start(self) -> HealthServer:
        """Register the worker's metrics and answer requests in the background."""
        for collector in self.collectors:
            REGISTRY.register(collector)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering, close the socket and unregister the worker's metrics."""
        self.httpd.shutdown()
        self.httpd.server_close()
        for collector in self.collectors:
            REGISTRY.unregister(collector)

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """Return (status, content type, body) for a GET of ``path``."""
        route = path.split("?", 1)[0]
        if route == "/healthz":
            return 200, "application/json", b'{"status":"ok"}'
        if route == "/readyz":
            ready, results = run_checks(self.checks)
            body: dict = {"status": "ok" if ready else "unavailable", "checks": results}
            failing = [name for name, result in results.items() if result != "ok"]
            if failing:
                body["failing"] = failing
            return (200 if ready else 503), "application/json", json.dumps(body).encode()
        if route == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        return 404, "application/json", b'{"error":"not found"}'


def _handler_for(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT
        server_version = "paissive-income-worker"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            try:
                status, content_type, body = server.respond(self.path)
            except Exception:  # noqa: BLE001 - a failing endpoint answers 500, the server lives
                logger.exception("worker health endpoint %s failed", self.path[:200])
                status, content_type, body = 500, "application/json", b'{"error":"internal"}'
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's signature
            logger.debug("health %s - %s", self.address_string(), format % args)

    return Handler
