"""Prometheus metrics for Flask: requests by endpoint and status, latency, in-flight.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR``: every worker writes its
samples there and ``/metrics`` aggregates them, so any worker answers with the whole picture.
Collectors added with ``HttpMetrics.add_collector`` are read at scrape time by the process that
answers (readiness, database counts): their values are not per process, so they are not summed.
Metrics another module keeps in a registry of its own (``add_registry``) are rendered directly in
one process and come from the shared folder under gunicorn, like the request metrics.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from paissive_income.observability.health import Check, run_checks

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    """Return the multi-process metrics folder, when one is configured."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class HttpMetrics:
    """The request metrics of one Flask app, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests handled.",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time spent handling a request.",
            ["method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "Requests being handled now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

        self._collectors: list[Collector] = []
        self._registries: list[CollectorRegistry] = []

    def add_collector(self, collector: Collector) -> None:
        """Also expose ``collector``, read at scrape time by the answering process."""
        self._collectors.append(collector)

    def add_registry(self, registry: CollectorRegistry) -> None:
        """Also expose ``registry``'s counters and histograms (per process under gunicorn)."""
        self._registries.append(registry)

    def exposition(self) -> bytes:
        """Render the metrics, aggregated across workers when running multi-process."""
        registry = CollectorRegistry()
        if multiprocess_dir():
            # Every metric of every worker, this app's and the added registries' alike.
            multiprocess.MultiProcessCollector(registry)
        else:
            for source in (self.registry, *self._registries):
                registry.register(source)
        for collector in self._collectors:
            registry.register(collector)
        return generate_latest(registry)


def init_metrics(app: Flask) -> HttpMetrics:
    """Record request metrics for ``app`` and serve them at ``/metrics``."""
    metrics = HttpMetrics()
    app.extensions["metrics"] = metrics

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()
        metrics.in_flight.inc()

    @app.after_request
    def _record(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
            metrics.requests.labels(request.method, endpoint, str(response.status_code)).inc()
            metrics.latency.labels(request.method, endpoint).observe(time.perf_counter() - started)
            metrics.in_flight.dec()
        return response

    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    def metrics_view() -> Response:
        # content_type, not mimetype: the constant already ends in "; charset=utf-8".
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    app.register_blueprint(blueprint)
    return metrics


def mark_worker_dead(pid: int) -> None:
    """Drop a dead gunicorn worker's live gauges (call from gunicorn's ``child_exit`` hook)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


class CachedCollector(Collector):
    """A collector whose families are computed at most once per ``ttl`` seconds.

    Prometheus may scrape every replica every few seconds; what a scrape reads from a database
    or a queue is cached, so N replicas cost N reads per ``ttl``. The read runs in a thread of
    its own and a scrape waits for it at most ``wait`` seconds, then answers with the previous
    families: a dependency that hangs (connect timeouts of 5 s per check) never makes the scrape
    itself time out, which Prometheus would report as the whole service down.
    """

    def __init__(
        self, ttl: float = 15.0, wait: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.wait, self._clock = ttl, wait, clock
        self._lock = threading.Lock()
        self._families: list[Metric] = []
        self._read_at: float | None = None
        self._reading: threading.Event | None = None

    def read(self) -> Iterable[Metric]:
        """Return the current families (subclasses: a failure here must not raise)."""
        raise NotImplementedError

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = self._clock()
            due = self._read_at is None or now - self._read_at >= self.ttl
            if due and self._reading is None:
                self._read_at, self._reading = now, threading.Event()
                name = f"metrics-{type(self).__name__}"
                threading.Thread(target=self._refresh, name=name, daemon=True).start()
            reading = self._reading
        if reading is not None:
            reading.wait(self.wait)  # concurrent scrapes share the one read in progress
        with self._lock:
            return list(self._families)

    def _refresh(self) -> None:
        try:
            families = list(self.read())
        except Exception:  # noqa: BLE001 - a scrape must answer; missing samples say why
            log.warning("%s failed", type(self).__name__, exc_info=True)
            families = []
        with self._lock:
            self._families, reading, self._reading = families, self._reading, None
        reading.set()

    def describe(self) -> Iterable[Metric]:
        return []  # names are not known without reading; registering never reads


class ReadinessCollector(CachedCollector):
    """``paissive_readiness_check_ok{check}``: 1 when a readiness check passes, else 0."""

    def __init__(self, checks: dict[str, Check], ttl: float = 15.0, **kwargs) -> None:
        super().__init__(ttl, **kwargs)
        self.checks = checks

    def read(self) -> Iterable[Metric]:
        _, results = run_checks(self.checks)
        family = GaugeMetricFamily(
            "paissive_readiness_check_ok",
            "1 when the readiness check passes (as /readyz runs it), 0 when it fails.",
            labels=["check"],
        )
        for name, result in results.items():
            family.add_metric([name], 1.0 if result == "ok" else 0.0)
        yield family
