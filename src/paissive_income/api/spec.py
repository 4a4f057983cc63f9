"""Declare API operations once: the route, its pydantic schemas, and its OpenAPI entry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint
from pydantic import BaseModel

from paissive_income.api.errors import ErrorResponse
from paissive_income.db.base import MAX_INTEGER_ID

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass(frozen=True)
class Operation:
    """One documented API operation."""

    path: str
    method: str
    operation_id: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    query: dict[str, dict] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def operation(blueprint: Blueprint, rule: str, method: str, **spec):
    """Register a view on ``blueprint`` and record it for the OpenAPI document."""

    def decorator(view):
        blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=view, methods=[method])
        path = (blueprint.url_prefix or "") + rule
        OPERATIONS.append(
            Operation(path=path, method=method.lower(), operation_id=view.__name__, **spec)
        )
        return view

    return decorator


def _path_parameters(path: str) -> tuple[str, list[dict]]:
    params = []
    for converter, name in _CONVERTER.findall(path):
        schema = (
            {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER_ID}
            if converter == "int"
            else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _CONVERTER.sub(r"{\2}", path), params


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _responses(op: Operation) -> dict:
    ok = {"description": "Success"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(op.response)}}
    responses = {str(op.status): ok}
    for status in (401, *op.errors):
        responses[str(status)] = {
            "description": "Error",
            "content": {"application/json": {"schema": _ref(ErrorResponse)}},
        }
    return responses


def _components(operations: list[Operation]) -> dict:
    schemas: dict[str, dict] = {}
    models = {ErrorResponse} | {m for op in operations for m in (op.body, op.response) if m}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def build_openapi(title: str, version: str) -> dict:
    """Return the OpenAPI 3.1 document of every declared operation."""
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        path, params = _path_parameters(op.path)
        query = [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in op.query.items()
        ]
        entry = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params + query,
            "responses": _responses(op),
            "security": [{"bearerAuth": []}],
        }
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.body)}},
            }
        paths.setdefault(path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": _components(OPERATIONS),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
