"""The Agent Team Service as the web, the API and the CLI use it: runs in, jobs out.

``AgentTeam`` wires the run service to the job queue: starting, resuming or re-running a run
commits it as queued and then enqueues its id, so a job never sees an uncommitted run.
``python run_ui.py`` starts an embedded consumer thread; containers run ``paissive-income worker``.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from agent_team.config import AgentSettings, load_agent_settings
from agent_team.runs import service
from agent_team.runs.models import Run
from agent_team.runs.tasks import JobQueue, create_huey
from agent_team.runs.worker import WORKER_MODEL_WAIT_SECONDS, RunExecutor
from paissive_income.cache import Cache
from paissive_income.config import Settings
from paissive_income.db import Database

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """Return a name unique to this worker process (host, pid and a random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def default_client():
    """Return the OpenAI client of the AI Models Service (in-process or ``AI_MODELS_URL``)."""
    from ai_models.client import get_client

    return get_client()


@dataclass
class AgentTeam:
    """Start and steer runs; the queue carries them to workers."""

    settings: AgentSettings
    queue: JobQueue

    def start_run(
        self,
        session: Session,
        *,
        owner_id: int,
        project_id: int,
        model: str | None = None,
        segments: list[str] | None = None,
        niche_index: int | None = None,
    ) -> Run:
        """Queue a new run of the owner's project and enqueue its job."""
        run = service.create_run(
            session,
            owner_id=owner_id,
            project_id=project_id,
            model=model or self.settings.model_for("research"),
            segments=segments,
            niche_index=niche_index,
            token_cap=self.settings.run_token_cap,
        )
        self._enqueue(run.id)
        return run

    def resume(self, session: Session, *, owner_id: int, run_id: int) -> Run:
        """Queue a failed, cancelled or over-budget run again from its last finished stage."""
        run = service.resume_run(session, owner_id=owner_id, run_id=run_id)
        self._enqueue(run.id)
        return run

    def rerun_from(self, session: Session, *, owner_id: int, run_id: int, stage: str) -> Run:
        """Make the stages from ``stage`` on again."""
        run = service.rerun_from(session, owner_id=owner_id, run_id=run_id, stage=stage)
        self._enqueue(run.id)
        return run

    def choose_niche(self, session: Session, *, owner_id: int, run_id: int, niche: int) -> Run:
        """Re-run the stages after research for another niche."""
        run = service.choose_niche(session, owner_id=owner_id, run_id=run_id, niche_index=niche)
        self._enqueue(run.id)
        return run

    def _enqueue(self, run_id: int) -> None:
        """Enqueue a committed run; a queue that is down leaves it to the sweepers, not a 500."""
        try:
            self.queue.enqueue(run_id)
        except Exception:  # noqa: BLE001 - Redis or the jobs file failing must not undo the run
            logger.warning(
                "run %s is queued but its job could not be enqueued; a worker's sweep will "
                "pick it up",
                run_id,
                exc_info=True,
            )


def build_team(
    settings: Settings,
    database: Database,
    cache: Cache | None,
    *,
    agent_settings: AgentSettings | None = None,
    client_factory=default_client,
    model_wait_seconds: float = WORKER_MODEL_WAIT_SECONDS,
) -> AgentTeam:
    """Build the service from the platform settings: the queue, and an executor for workers."""
    agents = agent_settings or load_agent_settings()
    huey = create_huey(redis_url=settings.redis_url, instance_path=settings.instance_path)

    def executor() -> RunExecutor:
        return RunExecutor(
            database=database,
            cache=cache,
            settings=agents,
            client_factory=client_factory,
            worker=worker_name(),
            model_wait_seconds=model_wait_seconds,
        )

    queue = JobQueue(
        huey, database=database, executor_factory=executor, stale_seconds=agents.stale_seconds
    )
    return AgentTeam(settings=agents, queue=queue)
