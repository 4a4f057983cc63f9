"""``/api/v1/projects``: create, read, update and delete the caller's projects."""

from __future__ import annotations

from flask import g

from paissive_income.api import api_v1
from paissive_income.api.auth import token_required
from paissive_income.api.body import parse_body
from paissive_income.api.errors import error_response
from paissive_income.api.query import PAGING, paging
from paissive_income.api.spec import operation
from paissive_income.context import db_session
from paissive_income.db.base import MAX_INTEGER_ID
from paissive_income.projects import listing, service
from paissive_income.projects.schemas import ProjectIn, ProjectList, ProjectOut, ProjectPatch

TAG = "projects"


@api_v1.errorhandler(service.ProjectNotFound)
def _not_found(exc: service.ProjectNotFound):
    return error_response(404, "not_found", f"Project {exc.args[0]} was not found.")


@operation(
    api_v1,
    "/projects",
    "GET",
    summary="List your projects",
    tag=TAG,
    response=ProjectList,
    errors=(400,),
    query={**PAGING, **listing.QUERY_PARAMETERS},
)
@token_required
def list_projects():
    """Return a page of the caller's projects, searched and sorted as asked."""
    page = paging()
    query, errors = listing.parse_query()
    if page is None:
        errors["limit/offset"] = f"limit must be 1-100 and offset 0-{MAX_INTEGER_ID}."
    if errors:
        details = [{"field": name, "message": message} for name, message in errors.items()]
        return error_response(400, "bad_request", " ".join(errors.values()), details)
    items, total = service.list_projects(
        db_session(), owner_id=g.api_user.id, limit=page[0], offset=page[1], query=query
    )
    return ProjectList(items=[ProjectOut.model_validate(p) for p in items], total=total).model_dump(
        mode="json"
    )


@operation(
    api_v1,
    "/projects",
    "POST",
    summary="Create a project",
    tag=TAG,
    body=ProjectIn,
    response=ProjectOut,
    status=201,
    errors=(400, 422),
)
@token_required
def create_project():
    """Create a project for the caller."""
    project = service.create_project(
        db_session(), owner_id=g.api_user.id, data=parse_body(ProjectIn)
    )
    return ProjectOut.model_validate(project).model_dump(mode="json"), 201


@operation(
    api_v1,
    "/projects/<int:project_id>",
    "GET",
    summary="Get a project",
    tag=TAG,
    response=ProjectOut,
    errors=(404,),
)
@token_required
def get_project(project_id: int):
    """Return one of the caller's projects."""
    project = service.get_project(db_session(), owner_id=g.api_user.id, project_id=project_id)
    return ProjectOut.model_validate(project).model_dump(mode="json")


@operation(
    api_v1,
    "/projects/<int:project_id>",
    "PUT",
    summary="Replace a project",
    tag=TAG,
    body=ProjectIn,
    response=ProjectOut,
    errors=(400, 404, 422),
)
@token_required
def replace_project(project_id: int):
    """Replace every field of one of the caller's projects."""
    return _update(project_id, parse_body(ProjectIn))


@operation(
    api_v1,
    "/projects/<int:project_id>",
    "PATCH",
    summary="Update a project",
    tag=TAG,
    body=ProjectPatch,
    response=ProjectOut,
    errors=(400, 404, 422),
)
@token_required
def patch_project(project_id: int):
    """Change some fields of one of the caller's projects."""
    return _update(project_id, parse_body(ProjectPatch))


def _update(project_id: int, data: ProjectIn | ProjectPatch):
    project = service.update_project(
        db_session(), owner_id=g.api_user.id, project_id=project_id, data=data
    )
    return ProjectOut.model_validate(project).model_dump(mode="json")


@operation(
    api_v1,
    "/projects/<int:project_id>",
    "DELETE",
    summary="Delete a project",
    tag=TAG,
    status=204,
    errors=(404,),
)
@token_required
def delete_project(project_id: int):
    """Delete one of the caller's projects."""
    service.delete_project(db_session(), owner_id=g.api_user.id, project_id=project_id)
    return "", 204
