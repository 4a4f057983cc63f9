"""API-wide routes and error handlers: the OpenAPI document, its reference page, the error shape."""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from paissive_income import __version__
from paissive_income.api import api_v1, reference
from paissive_income.api.errors import error_response, http_error, validation_error
from paissive_income.api.spec import build_openapi
from paissive_income.context import rollback_db_session
from paissive_income.observability.outages import OUTAGES, unavailable

log = logging.getLogger(__name__)


@api_v1.get("/openapi.json")
def openapi_document():
    """Serve the OpenAPI document built from the same schemas the code validates with."""
    return jsonify(_document())


@api_v1.get("/reference")
def reference_page():
    """Show the OpenAPI document as a page for people: operations by tag, schemas, curl examples."""
    document = _document()
    return render_template(
        "api/reference.html",
        document=document,
        groups=reference.operations_by_tag(document, request.url_root),
        schemas=reference.schema_docs(document),
        token_variable=reference.TOKEN_VARIABLE,
    )


def _document() -> dict:
    return build_openapi("pAIssive Income API", __version__)


api_v1.register_error_handler(ValidationError, validation_error)
api_v1.register_error_handler(HTTPException, http_error)


def dependency_down(exc: Exception):
    """Answer 503 ``service_unavailable`` naming the dependency that is down, not a 500."""
    rollback_db_session()
    return http_error(unavailable(exc))


for _outage in OUTAGES:
    api_v1.register_error_handler(_outage, dependency_down)


@api_v1.errorhandler(Exception)
def unexpected_error(exc: Exception):
    """Log any unexpected failure with its traceback; answer with the error shape, never one."""
    log.error("Exception on %s [%s]", request.path, request.method, exc_info=exc)
    rollback_db_session()
    return error_response(500, "internal_error", "Something went wrong on our side.")
