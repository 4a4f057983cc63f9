"""One JSON error shape for the API: ``{"error": {"code", "message", "details"?}}``."""

from __future__ import annotations

from flask import jsonify
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException


class ErrorDetail(BaseModel):
    """One problem with one field of the request."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """The content of an error response."""

    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResponse(BaseModel):
    """Every API error looks like this."""

    error: ErrorBody


def error_response(status: int, code: str, message: str, details: list[dict] | None = None):
    """Return a Flask JSON response in the API's error shape."""
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    response = jsonify(body.model_dump(exclude_none=True))
    response.status_code = status
    return response


def validation_error(exc: ValidationError):
    """Return a 422 naming each invalid field."""
    details = [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors()
    ]
    return error_response(422, "validation_error", "The request body is invalid.", details)


def http_error(exc: HTTPException):
    """Return any HTTP error (404, 405, 413, …) in the API's error shape."""
    code = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(exc.code or 500, code, exc.description or exc.name)
    # Keep the headers the error defines, e.g. the Allow that RFC 9110 requires on a 405.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
