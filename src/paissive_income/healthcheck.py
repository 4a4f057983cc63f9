"""``python -m paissive_income.healthcheck``: exit 0 when the service's ``/healthz`` answers 200.

The image's ``HEALTHCHECK`` runs this every few seconds, so it imports only the standard library
(no settings, no Flask): GET ``$HEALTHCHECK_URL``, else ``http://127.0.0.1:$PORT/healthz``
(``PORT`` default 5000), with a ``HEALTHCHECK_TIMEOUT`` (seconds, default 3). http.client, not
urllib: a proxy from ``HTTP_PROXY`` must not be asked about our own loopback address.
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 3.0


def probe_url(environ: Mapping[str, str] = os.environ) -> str:
    """Return the URL to probe: ``HEALTHCHECK_URL`` or the local ``/healthz`` on ``PORT``."""
    if environ.get("HEALTHCHECK_URL"):
        return environ["HEALTHCHECK_URL"]
    port = environ.get("PORT", "").strip() or "5000"
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"PORT: must be a port number 1-65535 (got {port!r})")
    return f"http://127.0.0.1:{port}/healthz"


def check(url: str, timeout: float) -> str | None:
    """GET ``url``; return None on 200, else one line saying what went wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"HEALTHCHECK_URL: not an http(s) URL: {url!r}"
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        connection = kind(parts.hostname, parts.port, timeout=timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers={"User-Agent": "paissive-income-healthcheck"})
        status = connection.getresponse().status
        connection.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return f"{url!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None if status == 200 else f"{url!r}: HTTP {status}"


def main() -> int:
    """Probe the service once; print a reason and return 1 unless it answered 200."""
    raw = os.environ.get("HEALTHCHECK_TIMEOUT", "").strip()
    try:
        timeout = float(raw) if raw else DEFAULT_TIMEOUT
        if not 0 < timeout <= 300:
            raise ValueError
    except ValueError:
        print(
            f"HEALTHCHECK_TIMEOUT: must be seconds between 0 and 300 (got {raw!r})", file=sys.stderr
        )
        return 1
    try:
        url = probe_url()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    problem = check(url, timeout)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
