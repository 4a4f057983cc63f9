"""The pipeline's artifact store on the database: each stage's output is written once."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from agent_team.pipeline import ARTIFACT_TYPES
from agent_team.runs.models import Run, RunArtifact
from agent_team.runs.service import stored_artifacts, stored_overrides
from paissive_income.db import Database
from paissive_income.db.base import utcnow


class RunStore:
    """The pipeline's ``ArtifactStore`` on the database, one short session per operation."""

    def __init__(self, database: Database, run_id: int) -> None:
        self.database, self.run_id = database, run_id

    def artifacts(self) -> dict[str, dict]:
        with self.database.session() as session:
            return stored_artifacts(session, self.run_id)

    def save(self, stage: str, artifact: dict) -> None:
        row = RunArtifact(
            run_id=self.run_id,
            stage=stage,
            schema_version=ARTIFACT_TYPES[stage].model_fields["version"].default,
            data=artifact,
            created_at=utcnow(),
        )
        with self.database.session() as session:
            try:
                session.add(row)
                session.commit()
            except IntegrityError:
                session.rollback()  # another worker wrote this stage first: keep theirs

    def overrides(self) -> dict[str, float]:
        with self.database.session() as session:
            return stored_overrides(session, self.run_id)

    def niche_index(self) -> int | None:
        with self.database.session() as session:
            return session.get(Run, self.run_id).niche_index
