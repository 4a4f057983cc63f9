"""Where to send a user after login: only a path on this site, judged as a browser reads it."""

from __future__ import annotations

from urllib.parse import urlsplit

from paissive_income.text import control_character_error


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if a browser would resolve it to a path on this site, else None.

    Browsers drop TAB, CR and LF anywhere in a URL, strip leading and trailing controls and
    spaces, and read ``\\`` as ``/``: so ``/\\t/evil.example`` and ``/\\evil.example`` both
    mean ``//evil.example``, another site. Rather than normalise like each browser, anything
    carrying such a character is refused, and what is left must be a plain absolute path.
    """
    if not target or target != target.strip() or "\\" in target:
        return None
    if control_character_error(target):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 host
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
