"""Errors of the AI Models Service and the one OpenAI-shaped JSON body every error response uses."""

from __future__ import annotations

from typing import Any


class ModelServiceError(Exception):
    """An error with an HTTP status and OpenAI's ``{"error": {...}}`` fields."""

    status_code = 500
    error_type = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the OpenAI error body for this error."""
        return error_body(self.message, self.error_type, param=self.param, code=self.code)


class InvalidRequestError(ModelServiceError):
    """The request is malformed or asks for something the model cannot do (400)."""

    status_code = 400
    error_type = "invalid_request_error"


class ContextLengthError(InvalidRequestError):
    """The prompt plus requested tokens exceed a limit (400, limit named in the message)."""

    code = "context_length_exceeded"


class AuthenticationError(ModelServiceError):
    """No valid API key (401)."""

    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class ModelNotFoundError(ModelServiceError):
    """The request names a model this server does not serve (404)."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class RequestTooLargeError(ModelServiceError):
    """The request body is larger than the configured maximum (413)."""

    status_code = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class QueueFullError(ModelServiceError):
    """Too many requests are waiting for this model (429 with Retry-After)."""

    status_code = 429
    error_type = "rate_limit_error"
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class ModelUnavailableError(ModelServiceError):
    """The model is still loading, or failed to load (503)."""

    status_code = 503
    error_type = "service_unavailable_error"
    code = "model_not_ready"


class ModelLoadError(ModelServiceError):
    """A model could not be loaded: which model, which source, why — in one line."""

    status_code = 503
    error_type = "service_unavailable_error"
    code = "model_load_failed"

    def __init__(self, name: str, source: str, reason: str) -> None:
        reason = " ".join(str(reason).split())
        super().__init__(f"cannot load model {name!r} from {source!r}: {reason}")
        self.name, self.source, self.reason = name, source, reason


class CancelledRequest(Exception):
    """The client went away; the work for its request was dropped."""


def error_body(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """Build OpenAI's error JSON: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}
