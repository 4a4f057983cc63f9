"""Executing a run in a worker: claim it exactly once, heartbeat, persist, finish with a status.

Claims and heartbeats live in ``claims``, the artifact store in ``store``. Each stage's artifact
is inserted once (unique per run and stage); a worker that resumes skips the stages that already
have one. A stopping worker
(``RunExecutor.stopping``) hands each run back to the queue after its current stage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import openai
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from agent_team.agents.base import RunCancelled, RunReleased, StageContext
from agent_team.config import AGENTS, AgentSettings
from agent_team.llm import BudgetExceeded, LLMError, StructuredCaller, UsageMeter
from agent_team.pipeline import StageInputError, run_pipeline
from agent_team.plan import STAGE_ORDER
from agent_team.runs import events
from agent_team.runs.claims import Heartbeat, claim_run
from agent_team.runs.metrics import EVENTS, AgentMetrics, CountedUsageMeter
from agent_team.runs.models import Run, RunStatus
from agent_team.runs.service import brief_of
from agent_team.runs.store import RunStore
from paissive_income.cache import Cache
from paissive_income.config import ConfigError
from paissive_income.db import Database
from paissive_income.db.base import utcnow
from paissive_income.observability.outages import dependency_of

logger = logging.getLogger(__name__)


# A worker started beside a model service that is still downloading or loading its model waits
# this long for it before failing the run (AGENT_MODEL_WAIT_SECONDS overrides).
WORKER_MODEL_WAIT_SECONDS = 600.0
# What a run handed back by a stopping worker shows until another worker takes it.
RELEASED_STEP = "waiting for a worker (the last one stopped)"


class RunExecutor:
    """Runs one claimed run to its end, recording progress, usage and the final status."""

    def __init__(
        self,
        *,
        database: Database,
        cache: Cache | None,
        settings: AgentSettings,
        client_factory: Callable[[], openai.OpenAI],
        worker: str,
        model_wait_seconds: float = WORKER_MODEL_WAIT_SECONDS,
        metrics: AgentMetrics = EVENTS,
    ) -> None:
        self.database, self.cache, self.settings = database, cache, settings
        self.metrics = metrics
        self.client_factory, self.worker = client_factory, worker
        # AGENT_MODEL_WAIT_SECONDS when set, else the caller's default for this executor.
        chosen = settings.model_wait_seconds
        self.model_wait_seconds = model_wait_seconds if chosen is None else chosen
        self.listeners: list[Callable[[str, str, dict[str, Any]], None]] = []
        # Set when the worker stops (SIGTERM): each run ends its current stage, then goes back
        # on the queue for another worker; no new run is claimed.
        self.stopping = threading.Event()

    def execute(self, run_id: int) -> str:
        """Claim and work run ``run_id``; return its final status, skipped, interrupted or released.

        Released: the run is queued again (finished stages kept); the caller enqueues its job.
        """
        if self.stopping.is_set():
            return "released"  # not claimed: it stays queued for another worker
        with self.database.session() as session:
            if not claim_run(
                session,
                run_id=run_id,
                worker=self.worker,
                stale_seconds=self.settings.stale_seconds,
            ):
                return "skipped"
            run = session.get(Run, run_id)
            meter = CountedUsageMeter(token_cap=run.token_cap, metrics=self.metrics)
            meter.prompt_tokens, meter.completion_tokens = run.prompt_tokens, run.completion_tokens
            meter.cost_usd = run.cost_usd
        beat = Heartbeat(self.database, run_id, self.worker, self.settings.heartbeat_seconds)
        beat.start()
        try:
            # The context is built inside the guard: a client that cannot be made (a bad
            # setting, a model that does not load) must end the run as failed, not leave it
            # "running" for the sweeper to requeue for ever.
            status, error = self._work(run_id, lambda: self._context(run, meter))
        finally:
            beat.stop()
        if status is None:  # the database went away: no end can be written, the sweep resumes it
            return "interrupted"
        if status == RunStatus.QUEUED:
            return self._release(run_id, meter)
        self._finish(run_id, status, error, meter)
        return status.value

    def _context(self, run: Run, meter: UsageMeter) -> StageContext:
        run_id = run.id
        waits: list[str] = []  # what this run last said it waits for: said once, not per try
        caller = StructuredCaller(
            self.client_factory(),
            cache=self.cache,
            prices=self.settings.prices,
            retry_budget=self.settings.retry_budget,
            model_wait_seconds=self.model_wait_seconds,
            waiter=lambda seconds, why: self._wait_for_model(run_id, seconds, why, meter, waits),
        )
        return StageContext(
            brief=brief_of(run),
            model=run.model,
            caller=caller,
            meter=meter,
            max_tokens=self.settings.max_tokens,
            stage_models={a: m for a, m in self.settings.agent_models.items() if a in AGENTS},
            progress=lambda step: self._progress(run_id, step, meter),
            cancelled=lambda: self._cancel_requested(run_id),
            stopping=self.stopping.is_set,
        )

    def _work(
        self, run_id: int, make_context: Callable[[], StageContext]
    ) -> tuple[RunStatus | None, str | None]:
        store = RunStore(self.database, run_id)
        try:
            context = make_context()
            run_pipeline(
                context=context,
                store=store,
                on_event=lambda kind, stage, detail: self._stage_event(run_id, kind, stage, detail),
            )
        except RunCancelled:
            return RunStatus.CANCELLED, None
        except RunReleased:
            return RunStatus.QUEUED, None
        except BudgetExceeded as exc:
            return RunStatus.BUDGET_EXCEEDED, str(exc)
        except (LLMError, ConfigError, StageInputError) as exc:
            return RunStatus.FAILED, str(exc)
        except OperationalError as exc:  # locked, full or gone: the finished stages are kept
            reason = str(exc.orig or exc).strip().splitlines()[0][:200]
            if dependency_of(exc) == "database":
                # Unreachable (stopped, restarting, failing over): the run stays "running" with
                # no heartbeat, and a worker's sweep resumes it once the database is back, even
                # when it is back before this worker's next write.
                logger.warning(
                    "run %s: the database went away (%s); a sweep resumes the run", run_id, reason
                )
                return None, reason
            logger.warning("run %s: database error: %s", run_id, reason)
            return RunStatus.FAILED, f"the database could not be written ({reason}); resume the run"
        except Exception:  # noqa: BLE001 - any bug must end as a failed run, not a stuck one
            logger.exception("run %s failed with an internal error", run_id)
            return (
                RunStatus.FAILED,
                "internal error while running the pipeline (see the worker log)",
            )
        return RunStatus.SUCCEEDED, None

    def _stage_event(self, run_id: int, kind: str, stage: str, detail: dict[str, Any]) -> None:
        done = STAGE_ORDER.index(stage) + (0 if kind == "stage_started" else 1)
        with self.database.session() as session:
            run = session.get(Run, run_id)
            run.stage, run.progress = stage, done / len(STAGE_ORDER)
            if kind == "stage_finished":
                began = events.stage_started_at(session, run_id=run_id, stage=stage)
                seconds = (utcnow() - began).total_seconds() if began else 0.0
                run.stage_seconds = {**run.stage_seconds, stage: round(seconds, 3)}
                detail = {**detail, "seconds": round(seconds, 3)}
            events.record(session, run_id=run_id, kind=kind, stage=stage, detail=detail)
            session.commit()
        if kind == "stage_finished":
            self.metrics.stage_finished(stage, detail["seconds"])
        for listener in self.listeners:
            listener(kind, stage, detail)

    def _progress(self, run_id: int, step: str, meter: UsageMeter) -> None:
        with self.database.session() as session:
            run = session.get(Run, run_id)
            run.step = step[:200]
            run.prompt_tokens, run.completion_tokens = meter.prompt_tokens, meter.completion_tokens
            run.cost_usd = meter.cost_usd
            events.record(
                session,
                run_id=run_id,
                kind="progress",
                stage=run.stage,
                detail={"step": step, "tokens": meter.total_tokens},
            )
            session.commit()

    def _wait_for_model(
        self, run_id: int, seconds: float, reason: str, meter: UsageMeter, waits: list[str]
    ) -> None:
        """Sleep before the next try at the model server, showing why; stop if cancelled."""
        self._stop_waiting(run_id)
        step = f"waiting for the model server: {reason}"
        if waits[-1:] != [step]:
            waits.append(step)
            self._progress(run_id, step, meter)
        self.stopping.wait(seconds)
        self._stop_waiting(run_id)

    def _stop_waiting(self, run_id: int) -> None:
        """End a wait for the model server: cancelled, or handed back when the worker stops."""
        if self._cancel_requested(run_id):
            raise RunCancelled("the run was cancelled")
        if self.stopping.is_set():  # no answer to end the stage with: another worker redoes it
            raise RunReleased("the worker is stopping")

    def _cancel_requested(self, run_id: int) -> bool:
        """Say whether to stop: the run is cancelled, or another worker has taken it over."""
        with self.database.session() as session:
            row = session.execute(
                select(Run.cancel_requested, Run.worker).where(Run.id == run_id)
            ).one_or_none()
        return row is None or row.cancel_requested or row.worker != self.worker

    def _release(self, run_id: int, meter: UsageMeter) -> str:
        """Put the run back on the queue (finished stages kept); return released, or cancelled."""
        with self.database.session() as session:
            # Only while this worker owns it and no cancel was asked for: a run asked to stop
            # ends cancelled, not queued again.
            released = session.execute(
                update(Run)
                .where(
                    Run.id == run_id,
                    Run.worker == self.worker,
                    Run.status == RunStatus.RUNNING,
                    Run.cancel_requested.is_(False),
                )
                .values(
                    status=RunStatus.QUEUED,
                    worker=None,
                    heartbeat_at=None,
                    step=RELEASED_STEP,
                    prompt_tokens=meter.prompt_tokens,
                    completion_tokens=meter.completion_tokens,
                    cost_usd=meter.cost_usd,
                )
            )
            if released.rowcount == 1:
                stage = session.scalar(select(Run.stage).where(Run.id == run_id))
                detail = {"step": RELEASED_STEP, "tokens": meter.total_tokens}
                events.record(session, run_id=run_id, kind="released", stage=stage, detail=detail)
                session.commit()
                logger.info("run %s: handed back to the queue (the worker is stopping)", run_id)
                return "released"
            session.rollback()
        self._finish(run_id, RunStatus.CANCELLED, None, meter)  # a no-op if taken over
        return RunStatus.CANCELLED.value

    def _finish(self, run_id: int, status: RunStatus, error: str | None, meter) -> None:
        values: dict[str, Any] = {
            "status": status,
            "error": error,
            "finished_at": utcnow(),
            "prompt_tokens": meter.prompt_tokens,
            "completion_tokens": meter.completion_tokens,
            "cost_usd": meter.cost_usd,
        }
        if status == RunStatus.SUCCEEDED:
            values.update(progress=1.0, step="done")
        with self.database.session() as session:
            # Only while this worker still owns the run: one that took over after a stale
            # heartbeat owns the outcome, and a read-then-write here would overwrite it.
            owned = session.execute(
                update(Run)
                .where(Run.id == run_id, Run.worker == self.worker, Run.status == RunStatus.RUNNING)
                .values(**values)
            )
            if owned.rowcount != 1:
                session.rollback()
                return
            stage = session.scalar(select(Run.stage).where(Run.id == run_id))
            events.record(
                session,
                run_id=run_id,
                kind="run_finished",
                stage=stage,
                detail={"status": status.value, "error": error},
            )
            session.commit()
        self.metrics.run_finished(status.value)
