"""Import every ORM model so Base.metadata knows all tables (used by migrations)."""

from paissive_income.auth.models import ApiToken, User
from paissive_income.projects.models import Project

__all__ = ["ApiToken", "Project", "User"]
