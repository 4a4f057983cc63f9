"""Query-string numbers for the JSON API: one strict parser and the paging parameters."""

from __future__ import annotations

from flask import request

from paissive_income.db.base import MAX_INTEGER_ID

INVALID = object()  # a query argument that is present but not a valid number
PAGING = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    "offset": {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER_ID, "default": 0},
}


def number_arg(name: str, default, *, low: int, high: int):
    """Return query argument ``name`` as an int in [low, high], ``default`` if absent, or INVALID.

    ASCII digits only: ``int()`` also takes "٣", "1_0" and " 1", and ``str.isdigit`` takes "²",
    which ``int()`` then refuses with an exception; and short, as ``int()`` refuses (raises on)
    more than 4,300 digits.
    """
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 12) or not low <= int(text) <= high:
        return INVALID
    return int(text)


def paging() -> tuple[int, int] | None:
    """Return the request's (limit, offset), or None when either is present but invalid."""
    limit = number_arg("limit", 50, low=1, high=100)
    offset = number_arg("offset", 0, low=0, high=MAX_INTEGER_ID)
    return None if INVALID in (limit, offset) else (limit, offset)
