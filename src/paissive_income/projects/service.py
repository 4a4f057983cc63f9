"""Project operations, always scoped to the owner so nobody sees another user's projects."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paissive_income.projects.models import Project
from paissive_income.projects.schemas import ProjectIn, ProjectPatch


class ProjectNotFound(LookupError):
    """No project with that id belongs to this user."""


def list_projects(
    session: Session, *, owner_id: int, limit: int = 100, offset: int = 0
) -> tuple[list[Project], int]:
    """Return one page of the owner's projects, newest first, and their total count."""
    query = select(Project).where(Project.owner_id == owner_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Project.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(page)), total


def get_project(session: Session, *, owner_id: int, project_id: int) -> Project:
    """Return the owner's project or raise ProjectNotFound."""
    project = session.get(Project, project_id)
    if project is None or project.owner_id != owner_id:
        raise ProjectNotFound(project_id)
    return project


def create_project(session: Session, *, owner_id: int, data: ProjectIn) -> Project:
    """Create a project owned by ``owner_id``."""
    project = Project(owner_id=owner_id, **data.model_dump())
    session.add(project)
    session.commit()
    return project


def update_project(
    session: Session, *, owner_id: int, project_id: int, data: ProjectIn | ProjectPatch
) -> Project:
    """Replace or patch the owner's project with the fields given."""
    project = get_project(session, owner_id=owner_id, project_id=project_id)
    for field, value in data.model_dump(exclude_unset=isinstance(data, ProjectPatch)).items():
        setattr(project, field, value)
    session.commit()
    return project


def delete_project(session: Session, *, owner_id: int, project_id: int) -> None:
    """Delete the owner's project."""
    session.delete(get_project(session, owner_id=owner_id, project_id=project_id))
    session.commit()
