"""One typed Settings object read from the environment (and ``<NAME>_FILE`` secret files).

``SecretFileSource`` is the one reader of ``<NAME>_FILE`` secrets and ``SecretsBackendSource``
the one reader of ``SECRETS_BACKEND`` (``paissive_income.secrets``) for every service (the web
app here, the AI Models Service in ``ai_models.config``), so they agree on every rule.
Precedence: the environment (``NAME`` or ``NAME_FILE``), then the secrets backend.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from paissive_income.secrets import SecretsError, resolve_secrets

# Variables that may hold a secret: each may instead come from NAME_FILE or SECRETS_BACKEND.
SECRET_VARIABLES = ("SECRET_KEY", "AI_MODEL_API_KEY", "DATABASE_URL", "REDIS_URL")
WEAK_SECRET_KEYS = {"dev", "secret", "changeme", "change-me", "development", "password", "test"}
MIN_PRODUCTION_SECRET_LENGTH = 32


class ConfigError(Exception):
    """A configuration problem, worded as one line naming the variable."""


class SecretFileSource(PydanticBaseSettingsSource):
    """A settings source reading each secret ``NAME`` from the file that ``NAME_FILE`` names.

    Docker and Kubernetes secrets arrive as files. Setting both ``NAME`` and ``NAME_FILE`` is
    refused (ConfigError naming the variable): silently preferring one hides a mistake.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        variables: Iterable[str],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.variables = tuple(variables)
        self.environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Return nothing per field: ``__call__`` reads every secret file at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, str]:
        """Return the secrets read from files, keyed as the settings class expects them."""
        values: dict[str, str] = {}
        for name in self.variables:
            path = self.environ.get(f"{name}_FILE")
            if not path:
                continue
            if self.environ.get(name):
                raise ConfigError(f"{name}: set either {name} or {name}_FILE, not both")
            try:
                values[self._key(name)] = Path(path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise ConfigError(f"{name}_FILE: cannot read {path}: {reason}") from None
        return values

    def _key(self, variable: str) -> str:
        """Return the alias of the field read from ``variable``, else its field name."""
        for field in self.settings_cls.model_fields.values():
            if field.validation_alias == variable:
                return variable
        return variable.lower()


class SecretsBackendSource(SecretFileSource):
    """A settings source asking ``SECRETS_BACKEND`` for the secrets the environment leaves unset.

    A remote backend is asked once per process and configuration (``paissive_income.secrets``).
    """

    def __call__(self) -> dict[str, str]:
        """Return the secrets the backend resolves, keyed as the settings class expects them."""
        try:
            found = resolve_secrets(self.variables, self.environ)
        except SecretsError as exc:
            raise ConfigError(str(exc)) from None
        return {self._key(name): value for name, value in found.items()}


class Settings(BaseSettings):
    """Every setting the platform reads from its environment."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    paissive_env: Literal["development", "production"] = "development"
    instance_path: Path = Field(default_factory=lambda: Path.cwd() / "instance")
    # Not in repr: a URL may hold a password.
    database_url: str | None = Field(default=None, repr=False)
    secret_key: SecretStr | None = None
    ai_model_api_key: SecretStr | None = None
    ai_models_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    redis_url: str | None = Field(default=None, repr=False)
    cache_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=1, le=65535)
    # Off by default: the first registration still creates the admin; then admin invites or opens.
    open_registration: bool = False
    trust_proxy: int = Field(default=0, ge=0, le=10)
    login_max_attempts_per_account: int = Field(default=5, ge=1)
    login_max_attempts_per_ip: int = Field(default=20, ge=1)
    login_throttle_window_seconds: int = Field(default=900, ge=1)
    max_content_length: int = Field(default=1_048_576, ge=1024)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url", "redis_url", "ai_models_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL (e.g. postgresql+psycopg://user@host/db)"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
            value = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _check_production_secret(self) -> Settings:
        if self.paissive_env != "production":
            return self
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if not key:
            raise ValueError("SECRET_KEY is required when PAISSIVE_ENV=production")
        if len(key) < MIN_PRODUCTION_SECRET_LENGTH or key.lower() in WEAK_SECRET_KEYS:
            raise ValueError(
                f"SECRET_KEY is too weak for production: use at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} random characters"
            )
        return self

    @property
    def is_production(self) -> bool:
        """Say whether the platform runs with production safeguards."""
        return self.paissive_env == "production"

    @property
    def sqlalchemy_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file in the instance folder."""
        return self.database_url or f"sqlite:///{self.instance_path / 'paissive_income.db'}"

    @property
    def cache_path(self) -> Path:
        """Return the folder of the local disk cache."""
        return self.cache_dir or self.instance_path / "cache"


def _describe(error: ValidationError) -> str:
    """Turn pydantic's first error into 'VARIABLE: what is wrong'."""
    first = error.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper()
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":
        message = "must be " + message.removeprefix("Input should be ")
    got = first.get("input")
    if name and isinstance(got, str | int) and name not in SECRET_VARIABLES:
        message = f"{message} (got {got!r})"
    return f"{name}: {message}" if name else message


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from ``environ`` (default: the process environment) or raise ConfigError."""
    environ = os.environ if environ is None else environ
    values = {k.lower(): v for k, v in environ.items() if k.lower() in Settings.model_fields}
    values.update(SecretFileSource(Settings, SECRET_VARIABLES, environ)())
    values.update(SecretsBackendSource(Settings, SECRET_VARIABLES, environ)())
    values.update(overrides)
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def ensure_instance(settings: Settings) -> Settings:
    """Create the instance folder and, in development, a persistent generated SECRET_KEY."""
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    if settings.secret_key is not None:
        return settings
    key_file = settings.instance_path / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    key = key_file.read_text(encoding="utf-8").strip()
    return settings.model_copy(update={"secret_key": SecretStr(key)})
