"""Health endpoints: ``/healthz`` (alive) and ``/readyz`` (dependencies reachable)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, jsonify

log = logging.getLogger(__name__)
Check = Callable[[], None]


def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    """Run each named check; a check passes when it returns without raising."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure makes the service unready
            log.warning("readiness check %s failed: %s", name, exc)
            results[name] = (
                f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
    return all(value == "ok" for value in results.values()), results


def init_health(app: Flask, checks: dict[str, Check]) -> None:
    """Serve ``/healthz`` and ``/readyz`` running ``checks`` for readiness."""
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @blueprint.get("/readyz")
    def readyz():
        ready, results = run_checks(checks)
        failing = [name for name, result in results.items() if result != "ok"]
        body = {"status": "ok" if ready else "unavailable", "checks": results}
        if failing:
            body["failing"] = failing
        return jsonify(body), 200 if ready else 503

    app.register_blueprint(blueprint)
