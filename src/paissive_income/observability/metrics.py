"""Prometheus metrics for Flask: requests by endpoint and status, latency, in-flight.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR``: every worker writes its
samples there and ``/metrics`` aggregates them, so any worker answers with the whole picture.
"""

from __future__ import annotations

import os
import time

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

    def exposition(self) -> bytes:
        """Render the metrics, aggregated across workers when running multi-process."""
        if multiprocess_dir():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


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
