"""The model server's app factory: ``create_app(settings, specs=…, lazy=…)``.

Models load in the background once the app starts, so ``/healthz`` answers at once and
``/readyz`` turns 200 only after every model is loaded and has answered a warm-up request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ai_models.api import health, require_api_key, sagemaker, v1, validation_error
from ai_models.config import ModelServiceSettings, load_settings
from ai_models.errors import CancelledRequest, ModelLoadError, ModelServiceError, error_body
from ai_models.host import ModelHost
from ai_models.metrics import ServerMetrics
from ai_models.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from ai_models.registry import ModelSpec
from ai_models.selection import spec_for_serving

logger = logging.getLogger(__name__)


def _install_error_handlers(app: FastAPI) -> None:
    """Answer every error in OpenAI's JSON shape (unexpected ones: ``RequestIdMiddleware``)."""

    @app.exception_handler(ModelServiceError)
    async def service_error(request: Request, exc: ModelServiceError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = validation_error(list(exc.errors()))
        return JSONResponse(error.body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        body = error_body(str(exc.detail), "invalid_request_error", code=code)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(CancelledRequest)
    async def cancelled(request: Request, exc: CancelledRequest) -> Response:
        return Response(status_code=499)


def create_app(
    settings: ModelServiceSettings | None = None,
    *,
    specs: list[ModelSpec] | None = None,
    lazy: bool = False,
    on_load_failure: Callable[[ModelLoadError], None] | None = None,
) -> FastAPI:
    """Build the model server for ``specs`` (default: the model the settings name)."""
    settings = settings or load_settings()
    specs = specs if specs is not None else [spec_for_serving(settings)]
    metrics = ServerMetrics()
    host = ModelHost(specs, settings, metrics, lazy=lazy, on_failure=on_load_failure)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        host.start()
        yield
        host.close()

    app = FastAPI(
        title="pAIssive Income AI Models Service",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.host = host
    app.state.metrics = metrics
    app.state.api_keys = [key.encode() for key in settings.api_key_values()]
    _install_error_handlers(app)
    guard = [] if settings.auth_exempt_health else [Depends(require_api_key)]
    app.include_router(health, dependencies=guard)
    app.include_router(v1)
    if settings.sagemaker:
        app.include_router(sagemaker)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
