"""The stack test's model server: the scripted chat model as a process of its own.

It stands in for ``paissive-income models serve``: a random-weight model cannot write plans, and
a real one is far too slow for CI. It reads what the Compose service sets — ``HOST``, ``PORT``
and the key file ``MODEL_SERVER_API_KEYS_FILE`` — answers ``/v1/chat/completions`` with
realistic JSON per agent schema (``tests/agent_team/scripted_model.py``) only for a caller with
the key, serves ``/healthz`` and ``/readyz``, and ``/calls`` (requests per schema, for the test).
``SCRIPTED_DELAY`` (seconds per reply) makes each stage take a moment, so runs are in flight.

Run: ``python tests/deploy/scripted_model_process.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent_team"))

import httpx  # noqa: E402
from scripted_model import ScriptedModel  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402


def _keys() -> set[str]:
    """Return the accepted API keys (comma-separated, as ``MODEL_SERVER_API_KEYS``)."""
    path = os.environ.get("MODEL_SERVER_API_KEYS_FILE")
    raw = Path(path).read_text() if path else os.environ.get("MODEL_SERVER_API_KEYS", "")
    return {key.strip() for key in raw.split(",") if key.strip()}


def make_app(model: ScriptedModel, keys: set[str], delay: float):
    """Return the WSGI app: chat completions behind the key, health and call counts open."""

    def reply(start_response, status: str, body: dict) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def app(environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if method == "GET" and path in ("/healthz", "/readyz"):
            return reply(start_response, "200 OK", {"status": "ok"})
        if method == "GET" and path == "/calls":
            names = Counter(r["response_format"]["json_schema"]["name"] for r in model.requests)
            return reply(start_response, "200 OK", dict(names))
        if method != "POST" or path != "/v1/chat/completions":
            return reply(start_response, "404 Not Found", {"error": {"message": "not found"}})
        if keys and environ.get("HTTP_AUTHORIZATION", "") not in {f"Bearer {k}" for k in keys}:
            return reply(start_response, "401 Unauthorized", {"error": {"message": "bad key"}})
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if delay:
            time.sleep(delay)
        response = model.handler(httpx.Request("POST", "http://scripted/v1", content=body))
        start_response(f"{response.status_code} OK", [("Content-Type", "application/json")])
        return [response.content]

    return app


def main() -> None:
    """Serve until killed."""
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    delay = float(os.environ.get("SCRIPTED_DELAY", "0"))
    server = make_server(host, port, make_app(ScriptedModel(), _keys(), delay), threaded=True)
    print(f"scripted model server on {host}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
