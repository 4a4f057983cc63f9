"""Resolve the secret variables a service needs from ``SECRETS_BACKEND``, once per process.

Precedence, for each secret variable (``SECRET_KEY``, ``DATABASE_URL`` …):

1. the environment: ``NAME`` or ``NAME_FILE`` (setting both is refused elsewhere);
2. the backend, for every variable the environment leaves unset. A secret the backend lacks is
   then simply unset, unless ``SECRETS_VARIABLES`` lists the variable: a listed variable must
   come from the backend (missing is an error), and setting it in the environment too is
   refused as ambiguous, like ``NAME`` with ``NAME_FILE``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from paissive_income.secrets.errors import SecretsError, SecretUnavailable
from paissive_income.secrets.registry import BACKEND_NAMES, BACKENDS, Backend

# Every variable any service reads as a secret: the web app/worker's and the model server's.
ALL_SECRET_VARIABLES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "AI_MODEL_API_KEY",
    "REDIS_URL",
    "MODEL_SERVER_API_KEYS",
)
MAX_SECRET_CHARS = 65_536
# The environment that configures a remote backend: a change means a new resolution.
_CONFIG_PREFIXES = ("SECRETS_", "VAULT_", "AWS_", "GOOGLE_", "AZURE_")
_cache: dict[tuple, dict[str, str]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every resolved secret, so the next start-up asks the backend again."""
    with _lock:
        _cache.clear()


def backend_name(environ: Mapping[str, str]) -> str:
    """Return the chosen ``SECRETS_BACKEND`` (default ``env``), or refuse an unknown one."""
    name = (environ.get("SECRETS_BACKEND") or "env").strip().lower()
    if name not in BACKEND_NAMES:
        shown = (environ.get("SECRETS_BACKEND") or "")[:40]
        raise SecretsError(
            f"SECRETS_BACKEND: must be one of {', '.join(BACKEND_NAMES)} (got {shown!r})"
        )
    return name


def listed_variables(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Return the variables ``SECRETS_VARIABLES`` lists (comma-separated), each a known one."""
    listed = tuple(
        part.strip().upper() for part in (environ.get("SECRETS_VARIABLES") or "").split(",")
    )
    listed = tuple(dict.fromkeys(name for name in listed if name))
    for name in listed:
        if name not in ALL_SECRET_VARIABLES:
            raise SecretsError(
                f"SECRETS_VARIABLES: {name[:40]!r} is not a secret variable "
                f"(known: {', '.join(ALL_SECRET_VARIABLES)})"
            )
    return listed


def _set_in_environment(environ: Mapping[str, str], variable: str) -> bool:
    return bool(environ.get(variable) or environ.get(f"{variable}_FILE"))


def secret_names(
    backend: Backend, variables: Iterable[str], environ: Mapping[str, str]
) -> dict[str, str]:
    """Map each variable to its secret's name: ``SECRETS_NAME_<VAR>``, else prefix + default."""
    prefix = environ.get("SECRETS_PREFIX") or ""
    names = {}
    for variable in variables:
        explicit = environ.get(f"SECRETS_NAME_{variable}")
        source = f"SECRETS_NAME_{variable}" if explicit else "SECRETS_PREFIX"
        names[variable] = explicit or prefix + backend.default_name(variable)
        backend.check_name(source, names[variable])
    return names


def _check_name_variables(environ: Mapping[str, str]) -> None:
    for key in environ:
        if key.startswith("SECRETS_NAME_") and key[13:] not in ALL_SECRET_VARIABLES:
            raise SecretsError(
                f"{key[:60]}: {key[13:60]!r} is not a secret variable "
                f"(known: {', '.join(ALL_SECRET_VARIABLES)})"
            )


def wanted_variables(variables: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """Return which of ``variables`` the backend resolves, refusing a doubly set one."""
    listed = listed_variables(environ)
    if not listed:
        return [name for name in variables if not _set_in_environment(environ, name)]
    for name in listed:
        if _set_in_environment(environ, name):
            raise SecretsError(
                f"{name}: listed in SECRETS_VARIABLES (read from the secrets backend) but also "
                f"set by {name} or {name}_FILE: choose one"
            )
    return [name for name in variables if name in listed]


def clean_value(variable: str, secret: str, backend: str, raw: str | bytes) -> str:
    """Return a secret's text (surrounding whitespace stripped), or refuse it unseen."""
    where = f"{variable}: the {backend} secret {secret!r}"
    if isinstance(raw, bytes):
        if len(raw) > MAX_SECRET_CHARS * 4:
            raise SecretsError(f"{where} is too large (over {MAX_SECRET_CHARS} characters)")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretsError(f"{where} is not UTF-8 text") from None
    if not isinstance(raw, str):
        raise SecretsError(f"{where} is not text (a {type(raw).__name__})")
    value = raw.strip()
    if len(value) > MAX_SECRET_CHARS:
        raise SecretsError(f"{where} is too large (over {MAX_SECRET_CHARS} characters)")
    if "\x00" in value:
        raise SecretsError(f"{where} contains a NUL character")
    if not value:
        raise SecretsError(f"{where} is empty")
    return value


def resolve_secrets(variables: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Return ``{variable: value}`` from ``SECRETS_BACKEND`` for the variables it resolves."""
    name = backend_name(environ)
    if name == "env":
        if environ.get("SECRETS_VARIABLES"):
            raise SecretsError(
                "SECRETS_VARIABLES: only used with a secrets backend "
                f"(SECRETS_BACKEND={'|'.join(BACKENDS)})"
            )
        return {}
    _check_name_variables(environ)
    backend = BACKENDS[name]
    backend.load()  # a missing SDK fails at start-up even when the environment sets everything
    wanted = wanted_variables(variables, environ)
    if not wanted:
        return {}
    names = secret_names(backend, wanted, environ)
    key = (
        name,
        tuple(sorted((k, v) for k, v in environ.items() if k.startswith(_CONFIG_PREFIXES))),
        tuple(sorted(names.items())),
    )
    with _lock:  # one resolution per process and configuration, however many loads
        if backend.remote and key in _cache:
            return dict(_cache[key])
        values = _fetch(backend, names, environ)
        if backend.remote:
            _cache[key] = dict(values)
    return values


def _fetch(backend: Backend, names: dict[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    module = backend.load()
    by_secret: dict[str, list[str]] = {}
    for variable, secret in names.items():
        by_secret.setdefault(secret, []).append(variable)
    try:
        found = module.fetch(tuple(by_secret), environ)
    except SecretUnavailable as exc:
        variable = ", ".join(by_secret.get(exc.name, names))
        raise SecretsError(
            f"{variable}: cannot read the {backend.name} secret {exc.name!r}: {exc.reason}"
        ) from None
    except SecretsError:
        raise
    except Exception as exc:  # noqa: BLE001 - an SDK failure no backend foresaw: still one line
        raise SecretsError(
            f"{', '.join(names)}: cannot read secrets from {backend.name}: {type(exc).__name__}"
        ) from None
    listed = listed_variables(environ)
    values = {}
    for variable, secret in names.items():
        if secret in found:
            values[variable] = clean_value(variable, secret, backend.name, found[secret])
        elif variable in listed:
            raise SecretsError(
                f"{variable}: the {backend.name} secret {secret!r} does not exist "
                "(SECRETS_VARIABLES lists it)"
            )
    return values
