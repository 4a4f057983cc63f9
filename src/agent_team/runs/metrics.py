"""Prometheus metrics of the Agent Team Service: runs, stages, the queue, model tokens and cost.

Two kinds. Events, counted by ``RunExecutor`` as they happen, in ``EVENTS`` (one per process):
runs finished by final status, stage durations, model calls, tokens and estimated cost by model.
Under gunicorn (``PROMETHEUS_MULTIPROC_DIR``) they go to the shared folder and the web's
``/metrics`` sums every process's. State, read at scrape time by ``RunsCollector`` from the
database and the queue (cached, so scraping many replicas costs one query each per ``ttl``):
runs by current status, when the oldest queued run was queued, jobs waiting in huey's queue.

``paissive-income worker`` exposes both on ``WORKER_HEALTH_PORT``; the web on its ``/metrics``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from agent_team.llm import CallUsage, UsageMeter
from agent_team.plan import STAGE_ORDER
from agent_team.runs.models import FINISHED, Run, RunStatus
from paissive_income.db import Database
from paissive_income.observability.health import Check
from paissive_income.observability.metrics import CachedCollector, ReadinessCollector

logger = logging.getLogger(__name__)

# Stages take seconds on a hosted model and minutes on a CPU one.
STAGE_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
# Model names come from settings and from users starting runs: label values stay bounded.
MAX_MODEL_LABELS = 32
OTHER_MODEL = "other"


class AgentMetrics:
    """The event metrics of the agent team, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs_finished = Counter(
            "paissive_agent_runs_finished",
            "Runs a worker ended, by final status (a resumed run counts each time it ends).",
            ["status"],
            registry=self.registry,
        )
        self.stage_duration = Histogram(
            "paissive_agent_stage_duration_seconds",
            "Time from a stage's start to its stored artifact.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.model_calls = Counter(
            "paissive_agent_model_calls",
            "Model calls of runs, by model and source (server, or cache: no tokens spent).",
            ["model", "source"],
            registry=self.registry,
        )
        self.model_tokens = Counter(
            "paissive_agent_model_tokens",
            "Tokens of runs' model calls, by model and direction (prompt: in, completion: out).",
            ["model", "direction"],
            registry=self.registry,
        )
        self.model_cost = Counter(
            "paissive_agent_model_cost_usd",
            "Estimated cost of runs' model calls in US dollars (AGENT_PRICES; local models: 0).",
            ["model"],
            registry=self.registry,
        )
        self._models: set[str] = set()
        self._lock = threading.Lock()
        for status in FINISHED:  # present at 0 from the start, so increase() sees the first one
            self.runs_finished.labels(status.value)
        for stage in STAGE_ORDER:
            self.stage_duration.labels(stage)

    def run_finished(self, status: str) -> None:
        """Count one run ended with ``status``."""
        self.runs_finished.labels(status).inc()

    def stage_finished(self, stage: str, seconds: float) -> None:
        """Record how long ``stage`` took."""
        self.stage_duration.labels(stage).observe(max(seconds, 0.0))

    def model_call(self, usage: CallUsage) -> None:
        """Count one model call with its tokens and cost."""
        model = self._model_label(usage.model)
        self.model_calls.labels(model, "cache" if usage.cached else "server").inc()
        if usage.prompt_tokens > 0:
            self.model_tokens.labels(model, "prompt").inc(usage.prompt_tokens)
        if usage.completion_tokens > 0:
            self.model_tokens.labels(model, "completion").inc(usage.completion_tokens)
        if usage.cost_usd > 0:
            self.model_cost.labels(model).inc(usage.cost_usd)

    def _model_label(self, model: str) -> str:
        """Return ``model`` as a label value; past ``MAX_MODEL_LABELS`` models, ``other``."""
        with self._lock:
            if model in self._models:
                return model
            if len(self._models) >= MAX_MODEL_LABELS:
                return OTHER_MODEL
            self._models.add(model)
            return model


EVENTS = AgentMetrics()  # the process's: every executor records here unless given another


@dataclass
class CountedUsageMeter(UsageMeter):
    """A run's usage meter that also counts each call in ``metrics``."""

    metrics: AgentMetrics | None = field(default=None, repr=False)

    def record(self, usage: CallUsage) -> None:
        """Count the call (its tokens are spent even when it ends the budget), then add it."""
        if self.metrics is not None:
            self.metrics.model_call(usage)
        super().record(usage)


class RunsCollector(CachedCollector):
    """Runs by current status, the oldest queued run and huey's waiting jobs, read at scrape."""

    def __init__(
        self,
        database: Database,
        queue_size: Callable[[], int] | None = None,
        ttl: float = 15.0,
        **kwargs,
    ) -> None:
        super().__init__(ttl, **kwargs)
        self.database, self.queue_size = database, queue_size

    def read(self) -> Iterable[Metric]:
        try:
            yield from self._runs()
        except Exception:  # noqa: BLE001 - a database that is down must not break the scrape
            logger.warning("reading runs for /metrics failed", exc_info=True)
        if self.queue_size is None:
            return
        try:
            waiting = self.queue_size()
        except Exception:  # noqa: BLE001 - absent samples are Prometheus's "unknown"
            logger.warning("reading the job queue for /metrics failed", exc_info=True)
            return
        yield GaugeMetricFamily(
            "paissive_agent_queue_jobs", "Jobs waiting in the agent team's queue.", value=waiting
        )

    def _runs(self) -> Iterable[Metric]:
        with self.database.session() as session:
            rows = session.execute(select(Run.status, func.count()).group_by(Run.status))
            counts = {status: count for status, count in rows}
            oldest = session.scalar(
                select(func.min(Run.updated_at)).where(Run.status == RunStatus.QUEUED)
            )
        runs = GaugeMetricFamily(
            "paissive_agent_runs", "Runs in the database by current status.", labels=["status"]
        )
        for status in RunStatus:
            runs.add_metric([status.value], counts.get(status, 0))
        yield runs
        oldest_family = GaugeMetricFamily(
            "paissive_agent_oldest_queued_run_timestamp_seconds",
            "When the run queued longest was queued (Unix time); no sample when none waits.",
        )
        if oldest is not None:
            oldest_family.add_metric([], oldest.timestamp())
        yield oldest_family


def worker_collectors(
    database: Database, queue_size: Callable[[], int] | None, checks: dict[str, Check]
) -> list[Collector]:
    """Return what a worker process exposes besides its own: events, runs, readiness."""
    return [EVENTS.registry, RunsCollector(database, queue_size), ReadinessCollector(checks)]
