"""Project operations, always scoped to the owner so nobody sees another user's projects."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import Session

from paissive_income.projects.models import Project
from paissive_income.projects.schemas import ProjectIn, ProjectPatch

# "created" is the id: ids are handed out in creation order and never tie, timestamps may.
SORT_COLUMNS = {
    "name": func.lower(Project.name),
    "created": Project.id,
    "updated": Project.updated_at,
}
# A table-valued function per backend that lists a JSON array's strings as rows named "value".
_JSON_STRINGS = {"sqlite": func.json_each, "postgresql": func.json_array_elements_text}


class ProjectNotFound(LookupError):
    """No project with that id belongs to this user."""


@dataclass(frozen=True)
class ProjectQuery:
    """Which of the owner's projects to list and in what order; the defaults are newest first."""

    search: str = ""
    sort: str = "created"
    descending: bool = True


@dataclass(frozen=True)
class ProjectPage:
    """One page of a listing: its projects, the number matching, and where it is in the pages."""

    items: list[Project]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def first(self) -> int:
        """Return the 1-based position of the page's first project (0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        """Return the 1-based position of the page's last project (0 when empty)."""
        return self.first + len(self.items) - 1 if self.items else 0


def _search(session: Session, text: str) -> ColumnElement[bool]:
    """Match ``text`` anywhere in the name or a segment, case-insensitively, % and _ literal."""
    values = _JSON_STRINGS[session.get_bind().dialect.name](Project.market_segments)
    segment = values.table_valued("value").alias("segment")
    in_segment = exists(
        select(1).select_from(segment).where(segment.c.value.icontains(text, autoescape=True))
    )
    return or_(Project.name.icontains(text, autoescape=True), in_segment)


def _matching(session: Session, owner_id: int, query: ProjectQuery) -> Select:
    selected = select(Project).where(Project.owner_id == owner_id)
    return selected.where(_search(session, query.search)) if query.search else selected


def _count(session: Session, selected: Select) -> int:
    return session.scalar(select(func.count()).select_from(selected.subquery())) or 0


def _ordered(selected: Select, query: ProjectQuery) -> Select:
    column = SORT_COLUMNS[query.sort]
    if query.descending:
        return selected.order_by(column.desc(), Project.id.desc())
    return selected.order_by(column.asc(), Project.id.asc())


def list_projects(
    session: Session,
    *,
    owner_id: int,
    limit: int = 100,
    offset: int = 0,
    query: ProjectQuery = ProjectQuery(),
) -> tuple[list[Project], int]:
    """Return ``limit`` of the owner's matching projects from ``offset``, and their count."""
    selected = _matching(session, owner_id, query)
    page = _ordered(selected, query).limit(limit).offset(offset)
    return list(session.scalars(page)), _count(session, selected)


def page_of_projects(
    session: Session, *, owner_id: int, query: ProjectQuery, page: int, per_page: int
) -> ProjectPage:
    """Return page ``page`` of the owner's matching projects; a page past the end is the last."""
    selected = _matching(session, owner_id, query)
    total = _count(session, selected)
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    rows = _ordered(selected, query).limit(per_page).offset((page - 1) * per_page)
    return ProjectPage(list(session.scalars(rows)), total, page, pages, per_page)


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
