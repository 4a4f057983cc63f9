"""Import every ORM model so Base.metadata knows all tables (used by migrations)."""

from agent_team.runs.models import AssumptionOverride, Run, RunArtifact, RunEvent
from paissive_income.auth.models import ApiToken, User
from paissive_income.projects.models import Project

__all__ = ["ApiToken", "AssumptionOverride", "Project", "Run", "RunArtifact", "RunEvent", "User"]
