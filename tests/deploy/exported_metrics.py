"""The real /metrics of web, worker and model server, in one process, after one analysis run.

web: the Flask app's ``/metrics`` (test client); worker: the worker command's own health server
(``agent_team.cli``'s wiring) answering ``/metrics``; ai-models: the model server's ASGI app
(its model not loaded: every family is declared when the app is built).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent_team"))
from agent_support import executor_for, make_owner  # noqa: E402
from scripted_model import ScriptedModel  # noqa: E402


def scrape_services(folder: Path) -> dict[str, str]:
    """Return {job: exposition} for web, worker and ai-models."""
    return {
        "web": _web_and_a_run(folder / "web"),
        "worker": _worker(folder / "worker"),
        "ai-models": _model_server(folder / "models"),
    }


def _settings(folder: Path):
    from paissive_income.config import load_settings

    return load_settings(
        {}, instance_path=folder, secret_key="monitoring-test-" + "k" * 32, log_level="WARNING"
    )


def _run_once(database) -> None:
    from agent_team.runs import service

    user_id, project_id = make_owner(database)
    with database.session() as session:
        run = service.create_run(session, owner_id=user_id, project_id=project_id, model="scripted")
    assert executor_for(database, ScriptedModel()).execute(run.id) == "succeeded"


def _web_and_a_run(folder: Path) -> str:
    from paissive_income.db import migrate
    from paissive_income.web import create_app

    app = create_app(_settings(folder))
    services = app.extensions["paissive"]
    try:
        migrate.upgrade(services.database.engine)
        _run_once(services.database)
        client = app.test_client()
        client.get("/healthz")
        return client.get("/metrics").text
    finally:
        services.cache.close()
        services.database.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(folder: Path) -> str:
    from agent_team.cli import _start_health_server
    from agent_team.runs.health_server import ConsumerState
    from agent_team.runs.tasks import create_huey
    from paissive_income.db import Database, migrate

    folder.mkdir(parents=True)
    database = Database(f"sqlite:///{folder / 'worker.db'}")
    try:
        migrate.upgrade(database.engine)
        _run_once(database)
        huey = create_huey(redis_url=None, instance_path=folder)
        server = _start_health_server(_free_port(), database, huey, ConsumerState())
        try:
            status, _, body = server.respond("/metrics")
        finally:
            server.stop()
        assert status == 200
        return body.decode()
    finally:
        database.dispose()


def _model_server(folder: Path) -> str:
    from ai_models.app import create_app
    from ai_models.config import ModelServiceSettings
    from ai_models.registry import ModelSpec

    settings = ModelServiceSettings(
        PAISSIVE_MODELS_HOME=str(folder), MODEL_SERVER_API_KEYS="", LOG_LEVEL="WARNING"
    )
    spec = ModelSpec(
        name="qwen2.5-0.5b-instruct",
        task="text-generation",
        backend="transformers",
        source=str(folder / "never-loaded"),
    )
    app = create_app(settings, specs=[spec], lazy=True)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # no lifespan: nothing loads
        async with httpx.AsyncClient(transport=transport, base_url="http://ai-models") as client:
            return await client.get("/metrics")

    response = asyncio.run(get())
    assert response.status_code == 200, response.text
    return response.text
