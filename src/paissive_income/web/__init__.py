"""The Flask web interface: ``create_app`` builds the whole service from Settings."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from huey import RedisHuey
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from paissive_income.api.body import DepthLimitedJSONProvider
from paissive_income.cache import create_cache
from paissive_income.config import Settings, ensure_instance, load_settings
from paissive_income.context import Services, close_db_session, rollback_db_session
from paissive_income.db import Database, migrate
from paissive_income.db.base import MAX_INTEGER_ID
from paissive_income.observability.health import init_health
from paissive_income.observability.logging import configure_logging
from paissive_income.observability.metrics import ReadinessCollector, init_metrics
from paissive_income.observability.outages import OUTAGES, unavailable
from paissive_income.observability.requests import init_request_ids
from paissive_income.web.extensions import csrf, login_manager
from paissive_income.web.security import HttpsAwareSessionInterface, security_headers

log = logging.getLogger(__name__)


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` that answers 404 for a number beyond any database id, not a database error."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_INTEGER_ID:
            # Not ValidationError: werkzeug turns that into a 405 when other methods share the URL.
            raise NotFound()
        return number


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app from ``settings`` (default: the environment)."""
    settings = ensure_instance(settings or load_settings())
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.json = DepthLimitedJSONProvider(app)
    _configure(app, settings)
    app.extensions["paissive"] = _services(settings)
    app.extensions["agent_team"] = _agent_team(app.extensions["paissive"])
    _init_extensions(app)
    _register_blueprints(app)
    return app


def _configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key.get_secret_value(),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.is_production,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = HttpsAwareSessionInterface()
    app.url_map.converters["int"] = DatabaseIdConverter
    if settings.trust_proxy:
        n = settings.trust_proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)


def _services(settings: Settings) -> Services:
    database = Database(settings.sqlalchemy_url)
    cache = create_cache(redis_url=settings.redis_url, directory=settings.cache_path)
    return Services(settings=settings, database=database, cache=cache)


def _agent_team(services: Services):
    from agent_team.team import build_team

    return build_team(services.settings, services.database, services.cache)


def _init_extensions(app: Flask) -> None:
    services: Services = app.extensions["paissive"]
    # Request ids and metrics first, so requests that CSRF rejects are still logged and counted.
    init_request_ids(app)
    metrics = init_metrics(app)
    checks = _readiness_checks(services, app.extensions["agent_team"].queue)
    metrics.add_collector(ReadinessCollector(checks))
    _agent_metrics(app, metrics)
    login_manager.init_app(app)
    csrf.init_app(app)
    init_health(app, checks)
    app.teardown_appcontext(close_db_session)
    app.after_request(security_headers)
    app.register_error_handler(HTTPException, _html_error)
    for outage in OUTAGES:  # a dependency down: a 503 page naming it, not a 500
        app.register_error_handler(outage, _outage)


def _agent_metrics(app: Flask, metrics) -> None:
    """Expose the agent team's metrics: its runs and queue, and what an embedded worker did."""
    from agent_team.runs.metrics import EVENTS, RunsCollector

    queue = app.extensions["agent_team"].queue
    metrics.add_registry(EVENTS.registry)
    metrics.add_collector(RunsCollector(queue.database, queue.huey.storage.queue_size))


def _readiness_checks(services: Services, queue=None) -> dict:
    """Return /readyz's checks, each failure one line naming the dependency."""

    def schema() -> None:
        try:
            at_head = migrate.is_at_head(services.database.engine)
        except OUTAGES:
            raise RuntimeError("cannot be checked: the database cannot be reached") from None
        if not at_head:
            raise RuntimeError("database schema is not at the newest migration")

    def cache() -> None:
        try:
            services.cache.ping()
        except Exception as exc:  # noqa: BLE001 - said in one line, naming the store
            where = "Redis" if services.cache.name == "redis" else "the disk cache"
            raise RuntimeError(f"{where} cannot be reached: {exc}") from None

    checks = {"database": services.database.check_connection, "schema": schema, "cache": cache}
    if queue is not None:  # where new runs are enqueued: Redis, or jobs.db beside SQLite

        def jobs() -> None:
            try:
                queue.huey.storage.queue_size()
            except Exception as exc:  # noqa: BLE001 - any failure: runs cannot be enqueued
                where = "Redis" if isinstance(queue.huey, RedisHuey) else "jobs.db"
                raise RuntimeError(f"the job queue ({where}) cannot be reached: {exc}") from None

        checks["queue"] = jobs
    return checks


def _register_blueprints(app: Flask) -> None:
    from agent_team.runs import api as _runs_api  # noqa: F401  (routes + handlers)
    from agent_team.runs import assumption_pages, plan_pages
    from agent_team.runs import views as run_views
    from paissive_income.api import api_v1
    from paissive_income.api import views as _api_views  # noqa: F401  (routes + handlers)
    from paissive_income.api.auth import init_token_auth
    from paissive_income.auth import admin
    from paissive_income.auth import views as auth_views
    from paissive_income.projects import api as _projects_api  # noqa: F401
    from paissive_income.projects import views as project_views

    init_token_auth(app, _user_for_token)
    csrf.exempt(api_v1)  # token auth, no cookies: nothing to forge
    app.register_blueprint(api_v1)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(project_views.bp)
    app.register_blueprint(run_views.bp)
    app.register_blueprint(plan_pages.bp)
    app.register_blueprint(assumption_pages.bp)


def _outage(exc: Exception):
    rollback_db_session()
    return _html_error(unavailable(exc))


def _html_error(exc: HTTPException):
    if isinstance(exc, InternalServerError):
        # The failed transaction must not break the error page itself (a bare Werkzeug 500).
        rollback_db_session()
    if request.path.startswith("/api/"):
        from paissive_income.api.errors import http_error

        return http_error(exc)
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    try:
        page = render_template("error.html", error=exc)
    except OUTAGES:
        # The database is down and the page's header reads the signed-in user: show the page
        # as to a visitor (it needs no database) rather than a bare line.
        rollback_db_session()
        login_manager._update_request_context_with_user()  # the anonymous user
        page = _plain_error(exc, headers)
    except Exception:  # noqa: BLE001 - the error page itself is broken
        log.exception("cannot render the error page for %s", exc.code)
        page = _plain_error(exc, headers, render=False)
    return page, exc.code or 500, headers


def _plain_error(exc: HTTPException, headers: dict, *, render: bool = True) -> str:
    """Return the error page as to a visitor, or one plain line when even that fails."""
    if render:
        try:
            return render_template("error.html", error=exc)
        except Exception:  # noqa: BLE001 - last resort below
            log.exception("cannot render the error page for %s", exc.code)
    headers["Content-Type"] = "text/plain; charset=utf-8"
    return f"{exc.code} {exc.name}: {exc.description}"


def _user_for_token(secret: str):
    from paissive_income.auth.service import user_for_token
    from paissive_income.context import db_session

    return user_for_token(db_session(), secret)


@login_manager.user_loader
def _load_user(session_user_id: str):
    """Return the session's user only while enabled and at the session version it was given."""
    from paissive_income.auth.models import User, parse_session_id
    from paissive_income.context import db_session

    parsed = parse_session_id(session_user_id)
    if parsed is None:
        return None
    user = db_session().get(User, parsed[0])
    # Disabled, logged out elsewhere or password changed: this session is over, everywhere.
    if user is None or user.disabled or user.session_version != parsed[1]:
        return None
    return user
