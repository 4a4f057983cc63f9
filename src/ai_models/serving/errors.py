"""The one exception every invalid deployment configuration raises."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from pydantic import ValidationError

FieldError = tuple[str, str]

# pydantic prefixes messages of errors raised by our own validators; the prefix says nothing.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def show(value: object, limit: int = 60) -> str:
    """Render a user-supplied value on one line (quotes, escapes, truncation) for messages."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_path(loc: Sequence[object]) -> str:
    """Turn a pydantic location tuple into `volumes[0].source` / `env_vars["X"]`."""
    path = ""
    parts = list(loc)
    for index, part in enumerate(parts):
        if part == "[key]":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        elif (index > 0 and parts[index - 1] in _MAPPING_FIELDS) or _is_key(parts, index):
            path += f"[{show(part)}]"
        else:
            # A mistyped field name is user input too: show it escaped unless it is a name.
            name = str(part) if str(part).isidentifier() else show(part)
            path += f".{name}" if path else name
    return path or "config"


# Fields whose keys are user data (env names, label keys): shown as ["KEY"] not .KEY.
_MAPPING_FIELDS = {"env_vars", "secrets", "node_selector", "labels"}


def _is_key(parts: list[object], index: int) -> bool:
    return index + 1 < len(parts) and parts[index + 1] == "[key]"


class DeploymentConfigError(ValueError):
    """A deployment configuration is invalid; `errors` lists each bad field with the reason."""

    def __init__(self, errors: Iterable[FieldError], model: str = "config") -> None:
        self.errors: list[FieldError] = list(dict.fromkeys(errors))
        self.model = model
        super().__init__(self._summary())

    def _summary(self) -> str:
        lines = "; ".join(f"{path}: {message}" for path, message in self.errors)
        return f"invalid {self.model}: {lines}"

    def lines(self) -> list[str]:
        """One `field: reason` line per error, as the CLI prints them."""
        return [f"{path}: {message}" for path, message in self.errors]

    @classmethod
    def from_pydantic(cls, exc: ValidationError, model: str) -> DeploymentConfigError:
        """Convert pydantic's error list, splicing in errors our own validators collected."""
        errors: list[FieldError] = []
        for error in exc.errors(include_url=False):
            nested = (error.get("ctx") or {}).get("error")
            prefix = list(error["loc"])
            if isinstance(nested, DeploymentConfigError):
                base = field_path(prefix) if prefix else ""
                errors += [(_join(base, path), message) for path, message in nested.errors]
                continue
            errors.append((field_path(prefix), _message(error)))
        return cls(errors, model)


def _join(base: str, path: str) -> str:
    if not base or not path:
        return base or path or "config"
    return base + path if path.startswith("[") else f"{base}.{path}"


def _message(error: dict) -> str:
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "is not a known field (check the spelling)"
    message = str(error["msg"])
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return " ".join(message.split())


class DeploymentWarning(UserWarning):
    """A config was accepted but adjusted (base image raised, secret value not written)."""


_collected: ContextVar[list[str] | None] = ContextVar("deployment_warnings", default=None)


def warn(message: str) -> None:
    """Report an adjustment: collected while a target renders, else a DeploymentWarning."""
    collected = _collected.get()
    if collected is None:
        warnings.warn(message, DeploymentWarning, stacklevel=2)
    elif message not in collected:
        collected.append(message)


@contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Gather the warnings raised while rendering, once each, to emit them at the caller."""
    token = _collected.set([])
    try:
        yield _collected.get()  # type: ignore[misc]
    finally:
        _collected.reset(token)


def warn_secret_dropped(name: str, value: str) -> None:
    """Say that a secret-looking env value was replaced by a reference."""
    if value:
        warn(f"env_vars[{name!r}] looks like a secret: its value is not written to any file")
