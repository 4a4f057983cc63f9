"""A form posted after its session was lost (CSRF token missing or stale) is shown again.

Flask-WTF refuses such a post with CSRFError, a bare 400. For an HTML form the visitor instead
gets the form back (status 400) with "Your session expired, please try again.", what they typed
kept (never a password) and a fresh token. A form opts in with ``retry_form``: its function
renders the page from the posted data without validating or acting on it. Any other page gets
the message and a link back. The JSON API answers with its own error shape, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from paissive_income.auth.redirects import safe_next

SESSION_EXPIRED = "Your session expired, please try again."
_RETRY_FORMS: dict[str, Callable[..., object]] = {}


def retry_form(endpoint: str):
    """Register ``render(**view_args)`` to show the form again when its post expired."""

    def register(render: Callable[..., object]):
        _RETRY_FORMS[endpoint] = render
        return render

    return register


def handle_csrf_error(exc: CSRFError):
    """Show the form again (HTML) or the API's JSON error, never the bare 400."""
    if request.path.startswith("/api/") or request.is_json or _prefers_json():
        from paissive_income.api.errors import http_error

        return http_error(exc)
    flash(SESSION_EXPIRED, "error")
    render = _RETRY_FORMS.get(request.endpoint or "")
    try:
        page = render(**(request.view_args or {})) if render else _expired_page()
    except HTTPException as refused:  # e.g. the link in the URL is no longer valid
        return current_app.handle_http_exception(refused)
    response = make_response(page)
    if response.status_code == 200:  # a redirect (e.g. to log in again) stays one
        response.status_code = 400
    return response


def _prefers_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _expired_page() -> str:
    return render_template("auth/expired.html", back=_way_back())


def _way_back() -> str | None:
    """Return where the form can be had again: this URL if it has a page, else the referrer."""
    try:
        request.url_rule.map.bind_to_environ(request.environ).match(request.path, method="GET")
        return request.full_path.rstrip("?")
    except (HTTPException, AttributeError):  # no such page (404, 405) or no rule at all
        pass
    referrer = request.referrer or ""
    if referrer.startswith(request.host_url):
        return safe_next("/" + referrer.removeprefix(request.host_url))
    return None
