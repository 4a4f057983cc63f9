"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

import functools

from flask import g, request

from paissive_income.api.errors import error_response
from paissive_income.auth.service import user_for_token
from paissive_income.web.context import db_session


def token_required(view):
    """Require ``Authorization: Bearer <token>`` and put its owner on ``g.api_user``."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        user = None
        if scheme.lower() == "bearer" and secret.strip():
            user = user_for_token(db_session(), secret.strip())
        if user is None:
            response = error_response(401, "unauthorized", "A valid API token is required.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper
