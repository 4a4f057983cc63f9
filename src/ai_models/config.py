"""Settings of the AI Models Service, read from the environment (``ModelServiceSettings``).

Every variable is listed in ``ENV_VARS`` with its meaning. Secrets (``AI_MODEL_API_KEY``,
``MODEL_SERVER_API_KEYS``) may also come from a file named by ``<NAME>_FILE`` (Docker/Kubernetes
secrets), read by the platform's one ``SecretFileSource`` (setting both is refused), or from
``SECRETS_BACKEND`` through its one ``SecretsBackendSource`` (see ``paissive_income.secrets``).
``load_settings()`` turns any invalid value into a ``SettingsError`` whose message is one line
naming the variable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ai_models.registry import Task, parse_task
from paissive_income.config import ConfigError, SecretFileSource, SecretsBackendSource

SECRET_FILE_VARS = ("AI_MODEL_API_KEY", "MODEL_SERVER_API_KEYS")

ENV_VARS = {
    "MODEL_PATH": "local folder or Hugging Face Hub id of the model `models serve` loads",
    "MODEL_TYPE": "text-generation (alias chat), embeddings or text-classification",
    "MODEL_ID": "name the model is served under; without MODEL_PATH, a registry name or hub id",
    "HOST": "interface `models serve` binds (default 127.0.0.1; 0.0.0.0 in SageMaker mode)",
    "PORT": "port `models serve` listens on (default 8000; SageMaker mode: 8080)",
    "MAX_BATCH_SIZE": "most sequences (classification: inputs; embeddings batch by padded tokens) "
    "run together in one batch (default 16)",
    "BATCH_WAIT_MS": "under load, how long a batch waits for more requests (default 5)",
    "MAX_QUEUE_SIZE": "sequences (prompts x n) that may wait per generation model, requests per "
    "embeddings/classification model; more are refused with 429 (default 256)",
    "MAX_BODY_BYTES": "largest request body accepted; larger ones get 413 (default 2097152)",
    "MAX_TOKENS": "largest max_tokens a request may ask for (default 4096)",
    "MAX_MODEL_LEN": "context length override in tokens (default: the model's own)",
    "MODEL_DEVICE": "auto, cpu, cuda, cuda:N or mps (default auto)",
    "MODEL_DTYPE": "auto, float32, float16 or bfloat16 (default auto: bfloat16 on GPUs and on "
    "CPUs with AMX or AVX-512 BF16, float32 on other CPUs)",
    "MODEL_CPU_THREADS": "torch threads for CPU inference (default: one per physical core the "
    "process may use, at most its container's CPU limit)",
    "PREFIX_CACHE_MB": "memory for cached prompt prefixes of a generation model, computed once "
    "and reused by later requests (default 256; 0 turns it off)",
    "MODEL_SERVER_API_KEYS": "comma-separated keys the server accepts as `Authorization: Bearer`",
    "MODEL_SERVER_AUTH_EXEMPT_HEALTH": "true: /healthz, /readyz, /metrics need no key (default)",
    "AI_MODEL_API_KEY": "key sent to a remote OpenAI-compatible engine, and to AI_MODELS_URL",
    "AI_MODELS_URL": "base URL of a model server to use instead of the in-process one",
    "AI_CHAT_MODEL": "model the agents chat with (default qwen2.5-0.5b-instruct)",
    "AI_EMBEDDING_MODEL": "model used for embeddings (default all-minilm-l6-v2)",
    "PAISSIVE_MODELS_HOME": "folder of the model registry file models.yaml",
    "LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR (default INFO)",
    "SECRETS_BACKEND": "where unset secrets come from: env (default), file, aws, gcp, azure or "
    "vault (see docs/operations.md)",
}


class SettingsError(ValueError):
    """An environment variable (or option) holds an invalid value; the message is one line."""


def default_models_home() -> Path:
    """Return the per-user data folder where the model registry lives."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "paissive-income" / "models"


class ModelServiceSettings(BaseSettings):
    """Configuration of the AI Models Service and its server, one field per environment variable."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, validate_default=True)

    model_path: str | None = Field(None, validation_alias="MODEL_PATH")
    model_type: Task | None = Field(None, validation_alias="MODEL_TYPE")
    model_id: str | None = Field(None, validation_alias="MODEL_ID")
    host: str | None = Field(None, validation_alias="HOST")
    port: int | None = Field(None, ge=0, le=65535, validation_alias="PORT")
    sagemaker: bool = False
    max_batch_size: int = Field(16, ge=1, le=1024, validation_alias="MAX_BATCH_SIZE")
    batch_wait_ms: float = Field(5.0, ge=0, le=10_000, validation_alias="BATCH_WAIT_MS")
    max_queue_size: int = Field(256, ge=1, validation_alias="MAX_QUEUE_SIZE")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, validation_alias="MAX_BODY_BYTES")
    max_tokens: int = Field(4096, ge=1, validation_alias="MAX_TOKENS")
    max_model_len: int | None = Field(None, ge=16, validation_alias="MAX_MODEL_LEN")
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", validation_alias="MODEL_DEVICE"
    )
    dtype: str = Field(
        "auto", pattern=r"^(auto|float32|float16|bfloat16)$", validation_alias="MODEL_DTYPE"
    )
    cpu_threads: int | None = Field(None, ge=1, le=1024, validation_alias="MODEL_CPU_THREADS")
    prefix_cache_mb: int = Field(256, ge=0, le=1_048_576, validation_alias="PREFIX_CACHE_MB")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias="MODEL_SERVER_API_KEYS"
    )
    auth_exempt_health: bool = Field(True, validation_alias="MODEL_SERVER_AUTH_EXEMPT_HEALTH")
    remote_api_key: SecretStr | None = Field(None, validation_alias="AI_MODEL_API_KEY")
    models_url: str | None = Field(None, pattern=r"^https?://", validation_alias="AI_MODELS_URL")
    chat_model: str = Field("qwen2.5-0.5b-instruct", min_length=1, validation_alias="AI_CHAT_MODEL")
    embedding_model: str = Field(
        "all-minilm-l6-v2", min_length=1, validation_alias="AI_EMBEDDING_MODEL"
    )
    models_home: Path = Field(
        default_factory=default_models_home, validation_alias="PAISSIVE_MODELS_HOME"
    )
    log_level: str = Field(
        "INFO", pattern=r"(?i)^(debug|info|warning|error|critical)$", validation_alias="LOG_LEVEL"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read options, then the environment, then ``<NAME>_FILE`` secrets, then the backend."""
        secret_files = SecretFileSource(settings_cls, SECRET_FILE_VARS)
        backend = SecretsBackendSource(settings_cls, SECRET_FILE_VARS)
        return (
            init_settings,
            env_settings,
            secret_files,
            backend,
            dotenv_settings,
            file_secret_settings,
        )

    @field_validator("model_type", mode="before")
    @classmethod
    def _task_alias(cls, value: Any) -> Any:
        return parse_task(value) if isinstance(value, str) and value else value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("model_path", "model_id", "host", "models_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def batch_wait_s(self) -> float:
        """Return the batching window in seconds."""
        return self.batch_wait_ms / 1000.0

    def api_key_values(self) -> list[str]:
        """Return the plain server API keys."""
        return [key.get_secret_value() for key in self.api_keys]


def _field_env_name(field_name: str) -> str:
    field = ModelServiceSettings.model_fields.get(field_name)
    alias = field.validation_alias if field else None
    return alias if isinstance(alias, str) else field_name


def load_settings(**overrides: Any) -> ModelServiceSettings:
    """Read settings from the environment, apply non-None ``overrides``; raise ``SettingsError``."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return ModelServiceSettings(**{_field_env_name(k): v for k, v in given.items()})
    except ConfigError as exc:  # a <NAME>_FILE problem, already one line naming the variable
        raise SettingsError(str(exc)) from None
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"][0] if error["loc"] else "settings"
        name = _field_env_name(str(loc))
        value = error.get("input")
        shown = "***" if "KEY" in name else repr(value)
        message = error["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}={shown}: {message}") from None
