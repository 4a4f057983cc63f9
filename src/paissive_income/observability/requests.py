"""Request ids: accept ``X-Request-ID`` or make one, return it, and tag every log line."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

from paissive_income.observability.logging import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = logging.getLogger("paissive_income.access")


def _incoming_request_id() -> str:
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    # An id is echoed into logs and headers, so only safe characters are accepted.
    return candidate if _VALID_REQUEST_ID.match(candidate) else uuid.uuid4().hex


def init_request_ids(app: Flask) -> None:
    """Give each request an id, put it on logs and on the response, and log the access."""

    @app.before_request
    def _start() -> None:
        g.request_id = _incoming_request_id()
        g.request_started = time.perf_counter()
        g.request_id_token = request_id_var.set(g.request_id)

    @app.after_request
    def _finish(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
            elapsed = time.perf_counter() - g.request_started
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={"duration_ms": round(elapsed * 1000, 2), "status": response.status_code},
            )
        return response

    @app.teardown_request
    def _reset(_exc) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)
