"""Parse a JSON request body into a pydantic schema."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel
from werkzeug.exceptions import BadRequest

Model = TypeVar("Model", bound=BaseModel)


def parse_body(schema: type[Model]) -> Model:
    """Return the request's JSON body validated by ``schema`` (ValidationError if invalid)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object (Content-Type: application/json).")
    return schema.model_validate(data)
