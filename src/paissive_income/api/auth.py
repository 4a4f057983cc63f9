"""Bearer-token authentication for the JSON API; the app says how a token finds its user."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request

from paissive_income.api.errors import error_response

# The plumbing knows no domain: the app registers the function that maps a token to its user.
TokenLoader = Callable[[str], Any]
_EXTENSION = "api_token_loader"


def init_token_auth(app: Flask, loader: TokenLoader) -> None:
    """Make ``loader(secret)`` the way ``token_required`` finds a token's user (None: refused)."""
    app.extensions[_EXTENSION] = loader


def token_required(view):
    """Require ``Authorization: Bearer <token>`` and put its owner on ``g.api_user``."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        user = None
        if scheme.lower() == "bearer" and secret.strip():
            user = current_app.extensions[_EXTENSION](secret.strip())
        if user is None:
            response = error_response(401, "unauthorized", "A valid API token is required.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper
