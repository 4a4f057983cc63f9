"""JSON-lines logging with request ids and secret redaction."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import datetime, timezone

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_SECRET_KEY_PATTERN = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization)", re.I)
_SECRET_INLINE = re.compile(
    r"(?P<k>(pass(word)?|secret|token|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<v>[^\s\"',&]+)",
    re.I,
)
_URL_PASSWORD = re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?P<at>@)", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
# Record attributes that are not extra fields; uvicorn's color_message repeats msg with ANSI codes.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def redact(text: str) -> str:
    """Hide passwords in URLs, bearer tokens and key=value secrets in a string."""
    text = _URL_PASSWORD.sub(r"\g<pre>***\g<at>", text)
    text = _BEARER.sub(r"\1***", text)
    return _SECRET_INLINE.sub(r"\g<k>***", text)


def _clean(key: str, value: object) -> object:
    if _SECRET_KEY_PATTERN.search(key):
        return "***"
    if isinstance(value, str):
        return redact(value)
    return value


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in payload:
                payload[key] = _clean(key, value)
        if record.exc_info:
            payload["exc_info"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO", stream=None) -> None:
    """Send every log record to stdout (or ``stream``) as JSON lines at ``level``."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_paissive", False):
            root.removeHandler(old)
    handler._paissive = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # werkzeug sets its own INFO level otherwise; its access lines repeat our structured ones.
    werkzeug_level = max(logging.getLevelName(level.upper()), logging.WARNING)
    logging.getLogger("werkzeug").setLevel(werkzeug_level)
